{#- SQL that Postgres and Spark write differently, one macro each, with a postgres__ and a spark__ form. The
    models use these where the engines differ; everything else is SQL both run as written. -#}

{#- `select {{ distinct_on(cols) }} ... {{ first_by(cols, order) }}`: one row per value of `cols`, the first by
    `order` (Postgres's `distinct on ... order by`; Spark's `qualify row_number()`). -#}
{% macro distinct_on(columns) -%}
    {{- return(adapter.dispatch('distinct_on', 'sis_sync')(columns)) -}}
{%- endmacro %}

{% macro default__distinct_on(columns) -%}
    distinct on ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__distinct_on(columns) -%}
{%- endmacro %}

{% macro first_by(columns, order) -%}
    {{- return(adapter.dispatch('first_by', 'sis_sync')(columns, order)) -}}
{%- endmacro %}

{% macro default__first_by(columns, order) -%}
    order by {{ columns | join(', ') }}, {{ order }}
{%- endmacro %}

{% macro spark__first_by(columns, order) -%}
    qualify row_number() over (partition by {{ columns | join(', ') }} order by {{ postgres_null_order(order) }}) = 1
{%- endmacro %}

{#- An `order by` list with Postgres's placement of nulls made explicit (last when ascending, first when
    descending; Spark's default is the other way round), so both engines pick the same first row. -#}
{% macro postgres_null_order(order) -%}
    {%- set items = [] -%}
    {%- set ns = namespace(depth=0, current='') -%}
    {%- for char in order -%}
        {%- if char == ',' and ns.depth == 0 -%}
            {%- do items.append(ns.current | trim) -%}
            {%- set ns.current = '' -%}
        {%- else -%}
            {%- set ns.depth = ns.depth + (1 if char == '(' else -1 if char == ')' else 0) -%}
            {%- set ns.current = ns.current ~ char -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do items.append(ns.current | trim) -%}
    {%- set placed = [] -%}
    {%- for item in items -%}
        {%- set lowered = item | lower -%}
        {%- if ' nulls ' in lowered -%}
            {%- do placed.append(item) -%}
        {%- elif lowered.endswith(' desc') -%}
            {%- do placed.append(item ~ ' nulls first') -%}
        {%- else -%}
            {%- do placed.append(item ~ ' nulls last') -%}
        {%- endif -%}
    {%- endfor -%}
    {{- placed | join(', ') -}}
{%- endmacro %}

{#- Whether `value` matches the regular expression `pattern` (a Python string, written without SQL quoting). -#}
{% macro regex_matches(value, pattern) -%}
    {{- return(adapter.dispatch('regex_matches', 'sis_sync')(value, pattern)) -}}
{%- endmacro %}

{% macro default__regex_matches(value, pattern) -%}
    {{ value }} ~ '{{ pattern }}'
{%- endmacro %}

{#- Spark reads a backslash in a string literal as an escape: it is doubled to reach the pattern. -#}
{% macro spark__regex_matches(value, pattern) -%}
    {{ value }} rlike '{{ pattern | replace("\\", "\\\\") }}'
{%- endmacro %}

{#- A delimited list's items joined into one string, in the list's order. -#}
{% macro join_array(array, separator) -%}
    {{- return(adapter.dispatch('join_array', 'sis_sync')(array, separator)) -}}
{%- endmacro %}

{% macro default__join_array(array, separator) -%}
    array_to_string({{ array }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__join_array(array, separator) -%}
    array_join({{ array }}, '{{ separator }}')
{%- endmacro %}

{#- string_agg(value, separator order by order): the group's values joined, in `order`. -#}
{% macro ordered_string_agg(value, separator, order) -%}
    {{- return(adapter.dispatch('ordered_string_agg', 'sis_sync')(value, separator, order)) -}}
{%- endmacro %}

{% macro default__ordered_string_agg(value, separator, order) -%}
    string_agg({{ value }}, '{{ separator }}' order by {{ order }})
{%- endmacro %}

{% macro spark__ordered_string_agg(value, separator, order) -%}
    listagg({{ value }}, '{{ separator }}') within group (order by {{ order }})
{%- endmacro %}

{#- The value of `key` in the JSON object `json` (jsonb on Postgres, a JSON string on Spark), as text. -#}
{% macro json_text(json, key) -%}
    {{- return(adapter.dispatch('json_text', 'sis_sync')(json, key)) -}}
{%- endmacro %}

{% macro default__json_text(json, key) -%}
    ({{ json }} ->> {{ key }})
{%- endmacro %}

{% macro spark__json_text(json, key) -%}
    get_json_object({{ json }}, concat('$.', {{ key }}))
{%- endmacro %}

{#- Whether the JSON array under `key` of the JSON object `json` holds the string `value`. -#}
{% macro json_array_has(json, key, value) -%}
    {{- return(adapter.dispatch('json_array_has', 'sis_sync')(json, key, value)) -}}
{%- endmacro %}

{% macro default__json_array_has(json, key, value) -%}
    coalesce({{ json }} -> '{{ key }}' ? {{ value }}, false)
{%- endmacro %}

{% macro spark__json_array_has(json, key, value) -%}
    coalesce(array_contains(from_json(get_json_object({{ json }}, '$.{{ key }}'), 'array<string>'), {{ value }}), false)
{%- endmacro %}

{#- A set-returning call for `cross join lateral ... as alias (column)`: every date from `first` to `last`. -#}
{% macro date_series(first, last) -%}
    {{- return(adapter.dispatch('date_series', 'sis_sync')(first, last)) -}}
{%- endmacro %}

{% macro default__date_series(first, last) -%}
    generate_series({{ first }}, {{ last }}, interval '1 day')
{%- endmacro %}

{% macro spark__date_series(first, last) -%}
    explode(sequence({{ first }}, {{ last }}))
{%- endmacro %}

{#- A set-returning call for `cross join lateral ... as alias (column)`: the items of a comma-separated list. -#}
{% macro list_items(list) -%}
    {{- return(adapter.dispatch('list_items', 'sis_sync')(list)) -}}
{%- endmacro %}

{% macro default__list_items(list) -%}
    unnest(string_to_array({{ list }}, ','))
{%- endmacro %}

{% macro spark__list_items(list) -%}
    explode(split({{ list }}, ','))
{%- endmacro %}

{#- The English name of a date's weekday, in lower case (monday). -#}
{% macro weekday_name(value) -%}
    {{- return(adapter.dispatch('weekday_name', 'sis_sync')(value)) -}}
{%- endmacro %}

{% macro default__weekday_name(value) -%}
    trim(to_char({{ value }}, 'day'))
{%- endmacro %}

{% macro spark__weekday_name(value) -%}
    lower(date_format({{ value }}, 'EEEE'))
{%- endmacro %}

{#- The days from `earlier` to `later` (dates), as an integer. -#}
{% macro days_between(later, earlier) -%}
    {{- return(adapter.dispatch('days_between', 'sis_sync')(later, earlier)) -}}
{%- endmacro %}

{% macro default__days_between(later, earlier) -%}
    ({{ later }} - {{ earlier }})
{%- endmacro %}

{% macro spark__days_between(later, earlier) -%}
    datediff({{ later }}, {{ earlier }})
{%- endmacro %}

{#- An aggregate: `value` of the group's row with the lowest `order`. -#}
{% macro value_of_first(value, order) -%}
    {{- return(adapter.dispatch('value_of_first', 'sis_sync')(value, order)) -}}
{%- endmacro %}

{% macro default__value_of_first(value, order) -%}
    (array_agg({{ value }} order by {{ order }}))[1]
{%- endmacro %}

{% macro spark__value_of_first(value, order) -%}
    min_by({{ value }}, {{ order }})
{%- endmacro %}

{#- A set-returning call for `join lateral ... as alias (column)`: every integer from `first` to `last`. -#}
{% macro integer_series(first, last) -%}
    {{- return(adapter.dispatch('integer_series', 'sis_sync')(first, last)) -}}
{%- endmacro %}

{% macro default__integer_series(first, last) -%}
    generate_series({{ first }}, {{ last }})
{%- endmacro %}

{% macro spark__integer_series(first, last) -%}
    explode(sequence({{ first }}, {{ last }}))
{%- endmacro %}

{#- `name as {{ cte_inlined() }} (...)`: a CTE Postgres inlines into each reader rather than computing it
    once (Spark always may). -#}
{% macro cte_inlined() -%}
    {{- return(adapter.dispatch('cte_inlined', 'sis_sync')()) -}}
{%- endmacro %}

{% macro default__cte_inlined() -%}
    not materialized
{%- endmacro %}

{% macro spark__cte_inlined() -%}
{%- endmacro %}

{#- Whether `value` is among the values `query` selects. Postgres evaluates the query once into an array, so
    that the planner can use it as a list of values (an index or block-range scan of a load's rows). -#}
{% macro in_values_of(value, query) -%}
    {{- return(adapter.dispatch('in_values_of', 'sis_sync')(value, query)) -}}
{%- endmacro %}

{% macro default__in_values_of(value, query) -%}
    {{ value }} = any(array({{ query }}))
{%- endmacro %}

{% macro spark__in_values_of(value, query) -%}
    {{ value }} in ({{ query }})
{%- endmacro %}

{#- An md5 of `columns` of `alias` taken together (nulls included), to tell whether a row's values changed. -#}
{% macro values_hash(alias, columns) -%}
    {{- return(adapter.dispatch('values_hash', 'sis_sync')(alias, columns)) -}}
{%- endmacro %}

{% macro default__values_hash(alias, columns) -%}
    md5(row({{ alias }}.{{ columns | join(', ' ~ alias ~ '.') }})::text)
{%- endmacro %}

{% macro spark__values_hash(alias, columns) -%}
    md5(to_json(struct({{ alias }}.{{ columns | join(', ' ~ alias ~ '.') }})))
{%- endmacro %}
