{#- Fails for every row where any of `columns` is null; `null_columns` names them. One scan of the model for
    all the columns, where a not_null test per column scans it once per column. -#}
{% test not_null_columns(model, columns) %}

select
    *,
    concat_ws(
        ', '{% for column in columns %},
        case when {{ column }} is null then '{{ column }}' end{% endfor %}
    ) as null_columns
from {{ model }}
where
    {% for column in columns -%}
        {{ column }} is null{{ " or" if not loop.last }}
    {% endfor %}

{% endtest %}
