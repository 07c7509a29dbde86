{{ year_partitioned_config() }}

with

loads_to_build as (

    {{ loads_to_build('discipline.csv', 'discipline') }}

),

discipline as (

    select * from {{ ref('stg_sis__discipline') }} as discipline
    where {{ load_id_filter('discipline.load_id', loads_to_build('discipline.csv', 'discipline')) }}

),

year_incidents as (

    select
        discipline.district_id,
        discipline.school_year,
        discipline.incident_id,
        discipline.student_id,
        discipline.school_id,
        discipline.incident_date,
        discipline.incident_type,
        discipline.action_taken,
        discipline.action_start_date,
        discipline.action_end_date,
        discipline.days_removed,
        loads_to_build.as_of_date
    from discipline
    inner join loads_to_build
        on
            discipline.load_id = loads_to_build.load_id
            and discipline.school_year = loads_to_build.school_year

)

select * from year_incidents
