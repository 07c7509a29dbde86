{#- Referential integrity for ids that are unique only within a district: fails for every (district_id, value)
    of `column_name` that has no row with the same district_id and `field` in the parent `to`. The built-in
    `relationships` compares the id alone, so a student id that exists in another district would pass it.
    Nulls are not checked (a missing reference is not_null's job). One failing row per orphan id, with the
    number of child rows that point at it.
    Usage:  - relationships_within_district: {arguments: {to: ref('dim_students'), field: student_id}} -#}
{% test relationships_within_district(model, column_name, to, field, district_column='district_id') %}

with

child as (

    select
        {{ district_column }} as district_id,
        {{ column_name }} as child_value
    from {{ model }}
    where {{ column_name }} is not null

),

parent as (

    select
        {{ district_column }} as district_id,
        {{ field }} as parent_value
    from {{ to }}

)

select
    child.district_id,
    child.child_value,
    count(*) as child_rows
from child
left join parent
    on
        child.district_id = parent.district_id
        and child.child_value = parent.parent_value
where parent.parent_value is null
group by child.district_id, child.child_value

{% endtest %}
