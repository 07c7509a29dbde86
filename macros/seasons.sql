{#- What an incremental mart may rebuild tonight: the districts whose model group the season decision
    (int_sync_nights) lets refresh on the run date. -#}

{% macro districts_refreshing_tonight(model_group) -%}
    {#- The districts whose `model_group` refreshes on the run date: what an incremental model may rebuild
        tonight. A query, to use as a CTE body. -#}
    select sync_nights.district_id
    from {{ ref('int_sync_nights') }} as sync_nights
    where
        sync_nights.night_date = {{ run_date() }}
        and sync_nights.model_group = '{{ model_group }}'
        and sync_nights.decision = 'refresh'
{%- endmacro %}
