{#- The season of a district's night: `summer_pause` when the night falls in one of the district's summer pauses
    (int_district_calendars: the seed seasons, or the export's sessions; first to last day), else `in_session`. The one definition, read by the calendar of each
    night (int_district_nights) and the files a night expects (int_expected_files). -#}
{% macro season_of(district_id, night_date) -%}
    case
        when exists (
            select 1
            from {{ ref('int_district_calendars') }} as pauses
            where
                pauses.district_id = {{ district_id }}
                and {{ night_date }} between pauses.summer_pause_start and pauses.summer_pause_end
        ) then 'summer_pause'
        else 'in_session'
    end
{%- endmacro %}
