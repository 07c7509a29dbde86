{#- Fails for every pair of a district's seasons rows whose summer pauses overlap. -#}
{% test no_overlapping_pauses(model) %}

select
    earlier.district_id,
    earlier.school_year as earlier_school_year,
    later.school_year as later_school_year
from {{ model }} as earlier
inner join {{ model }} as later
    on
        earlier.district_id = later.district_id
        and earlier.school_year < later.school_year
        and earlier.summer_pause_end >= later.summer_pause_start

{% endtest %}
