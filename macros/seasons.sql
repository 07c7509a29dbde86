{#- What an incremental mart may rebuild tonight: the districts whose model group the season decision
    (int_sync_nights) lets refresh on the run date. -#}

{% macro districts_refreshing_tonight(file_name) -%}
    {#- The districts where the model group of `file_name` (seed export_file_groups: the one place a file's group
        is named) refreshes on the run date: what an incremental model may rebuild tonight. A query, to use as
        a CTE body. -#}
    select sync_nights.district_id
    from {{ ref('int_sync_nights') }} as sync_nights
    inner join {{ ref('export_file_groups') }} as export_file_groups
        on sync_nights.model_group = export_file_groups.model_group
    where
        sync_nights.night_date = {{ run_date() }}
        and export_file_groups.file_name = '{{ file_name }}'
        and sync_nights.decision = 'refresh'
{%- endmacro %}

{#- The season of a district's night: `summer_pause` when the night falls in one of the district's summer pauses
    (seed seasons, first to last day), else `in_session`. The one definition, read by the calendar of each
    night (int_district_nights) and the files a night expects (int_expected_files). -#}
{% macro season_of(district_id, night_date) -%}
    case
        when exists (
            select 1
            from {{ ref('seasons') }} as pauses
            where
                pauses.district_id = {{ district_id }}
                and {{ night_date }} between pauses.summer_pause_start and pauses.summer_pause_end
        ) then 'summer_pause'
        else 'in_session'
    end
{%- endmacro %}
