{#- dbt's `where` test config, with one placeholder: `__tonights_load_ids__` becomes the ids of the loads the
    ledger recorded as `loaded` for the run date, as literals (`null` when there are none).

    The staging tests check what landed tonight: each load once, the night it lands. Written as literals,
    the ids let Postgres read the raw tables through their BRIN index on _load_id (the block ranges of
    tonight's loads) instead of every load ever landed, so a test costs the same on the first night and
    after a school year of raw history. A subquery on the ledger would not use the index. -#}
{% macro get_where_subquery(relation) -%}
{%- set where = config.get('where', '') -%}
{%- if where -%}
{%- if '__tonights_load_ids__' in where -%}
{%- set where = where | replace('__tonights_load_ids__', tonights_load_ids()) -%}
{%- endif -%}
{%- set filtered -%}
(select * from {{ relation }} where {{ where }}) as dbt_subquery
{%- endset -%}
{%- do return(filtered) -%}
{%- else -%}
{%- do return(relation) -%}
{%- endif -%}
{%- endmacro %}

{#- The ids of the loads landed for the run date, quoted and comma-separated, or `null`. Read from the load
    ledger when the test runs (compiling without a database gives `null`). -#}
{% macro tonights_load_ids() -%}
{%- if not execute -%}
{{ return('null') }}
{%- endif -%}
{%- set ledger = graph.sources['source.' ~ project_name ~ '.sis.load_ledger'] -%}
{%- set query -%}
    select distinct load_id
    from {{ ledger.schema }}.{{ ledger.identifier }}
    where status = 'loaded' and load_id is not null and export_date = {{ run_date() }}
    order by 1
{%- endset -%}
{%- set ids = run_query(query).columns[0].values() -%}
{%- if ids | length == 0 -%}
{{ return('null') }}
{%- endif -%}
{%- set quoted = [] -%}
{%- for id in ids -%}
{%- do quoted.append("'" ~ (id | replace("'", "''")) ~ "'") -%}
{%- endfor -%}
{{ return(quoted | join(', ')) }}
{%- endmacro %}
