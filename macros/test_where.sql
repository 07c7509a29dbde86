{#- dbt's `where` test config, with two placeholders, each replaced by literals read when the test runs:

    - `__tonights_load_ids__`: the ids of the loads the ledger recorded as `loaded` for the run date (`null`
      when there are none). The staging tests check what landed tonight: each load once, the night it lands.
      As literals, the ids let Postgres read the raw tables through their BRIN index on _load_id (the block
      ranges of tonight's loads) instead of every load ever landed, so a test costs the same after a school
      year of raw history as on the first night. A subquery on the ledger would not use the index.
    - `__current_school_years__`: `(district_id, school_year) in (...)`, each district's current school
      year (int_district_school_years); `true` on a full refresh. The year-scoped marts rebuild only the
      current school year on an incremental night (macros/incremental.sql), so their tests check that year
      and leave the years kept as history, tested when they were built and by every full refresh. -#}
{% macro get_where_subquery(relation) -%}
{%- set where = config.get('where', '') -%}
{%- if where -%}
{%- if '__tonights_load_ids__' in where -%}
{%- set where = where | replace('__tonights_load_ids__', tonights_load_ids()) -%}
{%- endif -%}
{%- if '__current_school_years__' in where -%}
{%- set where = where | replace('__current_school_years__', current_school_years_filter()) -%}
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
{{ return(sql_strings(run_query(query).columns[0].values())) }}
{%- endmacro %}

{#- Each district's current school year as `(district_id, school_year) in ((...), ...)`, or `true` on a full
    refresh (every year was rebuilt) or when compiling without a database. -#}
{% macro current_school_years_filter() -%}
{%- if not execute or flags.FULL_REFRESH -%}
{{ return('true') }}
{%- endif -%}
{#- looked up in the graph, not ref(): a test's dependencies are fixed when the project is parsed -#}
{%- set node = graph.nodes['model.' ~ project_name ~ '.int_district_school_years'] -%}
{%- set years = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
{%- if years is none -%}
{{ return('true') }}
{%- endif -%}
{%- set query -%}
    select district_id, current_school_year
    from {{ years }}
    where current_school_year is not null
    order by 1
{%- endset -%}
{%- set pairs = [] -%}
{%- for row in run_query(query).rows -%}
{%- do pairs.append("(" ~ sql_string(row[0]) ~ ", " ~ (row[1] | int) ~ ")") -%}
{%- endfor -%}
{%- if pairs | length == 0 -%}
{{ return('false') }}
{%- endif -%}
{{ return('(district_id, school_year) in (' ~ (pairs | join(', ')) ~ ')') }}
{%- endmacro %}
