{#- The raw layer on Spark: every source is a table over its folder of parquet in the lake
    (<lake>/<schema>/<table>/<district column>=<district>/*.parquet; a table of no district's, the
    phone map, is one folder), typed as its source says, registered by
    the build before it runs (on-run-start), told of new districts' folders and of those deleted, and its
    listing of files read anew (a night adds a file per load). On Postgres the sources are the
    raw layer's own tables and nothing is registered. -#}

{% macro register_lake() -%}
    {{- return(adapter.dispatch('register_lake', 'sis_sync')()) -}}
{%- endmacro %}

{% macro default__register_lake() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro spark__register_lake() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set statements = [] -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do statements.append('create schema if not exists ' ~ source.schema) -%}
        {%- endif -%}
        {%- set names = source.columns.keys() | list -%}
        {%- set partition = ('_district_id' if '_district_id' in names
                             else 'district_id' if 'district_id' in names else none) -%}
        {%- set columns = [] -%}
        {%- for column in source.columns.values() -%}
            {%- do columns.append(column.name ~ ' ' ~ data_type(column.data_type)) -%}
        {%- endfor -%}
        {%- set table = source.schema ~ '.' ~ source.identifier -%}
        {%- do statements.append(
            'create table if not exists ' ~ table ~ ' (' ~ columns | join(', ') ~ ') using parquet'
            ~ (' partitioned by (' ~ partition ~ ')' if partition else '')
            ~ " location '" ~ lake_dir() ~ '/' ~ source.schema ~ '/' ~ source.identifier ~ "'") -%}
        {%- if partition -%}
            {%- do statements.append('msck repair table ' ~ table ~ ' sync partitions') -%}
        {%- endif -%}
        {%- do statements.append('refresh table ' ~ table) -%}
    {%- endfor -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {{- return('') -}}
{%- endmacro %}

{% macro lake_dir() -%}
    {#- The lake's folder: SIS_SYNC_LAKE, else lake/ beside the Spark warehouse (profiles.yml). -#}
    {{- return(env_var('SIS_SYNC_LAKE', env_var('SIS_SYNC_SPARK_DIR', '.sis-sync/spark') ~ '/lake')) -}}
{%- endmacro %}
