{#- The model's grain as the database enforces it: fails unless the model has a valid unique index on exactly
    `columns` (in any order; of columns alone, over every row), read from the catalog without a scan of the
    rows. An engine without indexes (Spark) checks the grain on the rows instead. -#}
{% test unique_index(model, columns) %}
{%- if not keeps_indexes() %}{{ return(test_unique_combination_of_columns(model, columns)) }}{% endif %}

with

wanted as (

    select
        array(
            select wanted_columns.column_name
            from unnest(array[{% for column in columns %}'{{ column }}'{{ ", " if not loop.last }}{% endfor %}]::text []) as wanted_columns (column_name)
            order by wanted_columns.column_name collate "C"
        ) as index_columns

),

unique_indexes as (

    select
        pg_index.indexrelid,
        -- the key columns only (not an index's INCLUDE columns)
        array(
            select pg_attribute.attname::text
            from pg_attribute
            where
                pg_attribute.attrelid = pg_index.indrelid
                and pg_attribute.attnum = any((pg_index.indkey::int2 [])[0:pg_index.indnkeyatts - 1])
            order by pg_attribute.attname::text collate "C"
        ) as index_columns
    from pg_index
    inner join pg_class
        on pg_index.indrelid = pg_class.oid
    inner join pg_namespace
        on pg_class.relnamespace = pg_namespace.oid
    where
        pg_namespace.nspname = '{{ model.schema }}'
        and pg_class.relname = '{{ model.identifier }}'
        and pg_index.indisunique
        and pg_index.indisvalid
        -- of columns alone, over every row: no expression, no partial index
        and pg_index.indexprs is null
        and pg_index.indpred is null

)

select 'no unique index on ({{ columns | join(", ") }})' as problem
from wanted
where not exists (
    select 1
    from unique_indexes
    where unique_indexes.index_columns = wanted.index_columns
)

{% endtest %}
