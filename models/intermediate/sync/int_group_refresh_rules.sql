-- Whether each model group refreshes in each season: the one reading of the seed season_refresh_rules (read
-- by the season decision, int_sync_nights, and the files a night expects, int_expected_files). A season
-- the seed gives a group no rule for: the group refreshes in session and pauses in summer.

with

season_refresh_rules as (

    select * from {{ ref('season_refresh_rules') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

model_groups as (

    select export_file_groups.model_group
    from export_file_groups

    union

    select season_refresh_rules.model_group
    from season_refresh_rules

),

seasons as (

    select season
    from (values ('in_session'), ('summer_pause')) as seasons (season)

),

final as (

    select
        model_groups.model_group,
        seasons.season,
        coalesce(bool_or(season_refresh_rules.refresh), seasons.season = 'in_session') as refreshes
    from model_groups
    cross join seasons
    left join season_refresh_rules
        on
            model_groups.model_group = season_refresh_rules.model_group
            and seasons.season = season_refresh_rules.season
    group by model_groups.model_group, seasons.season

)

select * from final
