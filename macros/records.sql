{#- The records layer (models/records/): for one export file, each record's state on the night its district and
    school year show (rec_nights: the season decision and the held nights applied there), one row per record,
    kept by dbt's delete+insert on the record's identity. The one place that reads the versions.

    A record's state is its newest version up to that night among the effective deliveries (int_loads_effective:
    the newest delivery of each night; a held correction counts once released). A retired record keeps a row,
    with the attributes of its last live version: `is_retired`, `last_changed_date` null (what a mart reads as
    "delete this record's rows") and `last_delivered_date`, the last night its file carried it. `changed_date`
    is the night of its newest version (the change or the retirement); `changed_on` the night this layer last
    wrote the row (its changed_date after a full refresh): what the marts read to rebuild only what changed.

    An incremental run reads the versions after the night its partition last changed (`changed_date`; that night
    too when its file was delivered more than once: a corrected file may have replaced the delivery read) up to
    the night shown, and takes each of
    their records' newest state from those versions and the row it had. Where a night from then on was delivered
    more than once, the row it had may come from a delivery replaced since: those records are read from all their
    effective versions instead. -#}
{% macro records_of(staging_model, file_name, key, has_school_year, mapped=none) -%}
{%- set identity = key + (['school_year'] if has_school_year and 'school_year' not in key else []) -%}
{%- set partition = record_partition(has_school_year) -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['district_id'] + identity,
        indexes=[
            {'columns': ['district_id'] + identity, 'unique': true},
            {'columns': partition + ['changed_date']},
            {'columns': partition + ['changed_on']},
        ],
        on_schema_change='fail',
    ) }}
{%- set record = ['district_id'] + identity -%}
{%- set candidate_record = [] -%}
{%- for column in record -%}{%- do candidate_record.append('candidates.' ~ column) -%}{%- endfor -%}
{#- the staging model's columns (none when the SQL is only linted) -#}
{%- set columns = adapter.get_columns_in_relation(ref(staging_model)) | map(attribute='name') | list
    if execute and adapter is defined else [] -%}
{#- what an incremental run reads besides, also when the project is parsed (not incremental then) -#}
{%- do ref('stg_sis__load_ledger') %}
    with

    nights as (

        select rec_nights.district_id, rec_nights.school_year, rec_nights.as_of_date
        from {{ ref('rec_nights') }} as rec_nights
        where rec_nights.records_model = '{{ this.name }}'

    ),

    effective_loads as (

        select effective.load_id
        from {{ ref('int_loads_effective') }} as effective
        where effective.file_name = '{{ file_name }}' and effective.load_id is not null

    ),

    effective_versions as (

        -- every version of the effective deliveries up to the night shown (a full refresh reads them all)
        select
            file_rows.*,
            true as is_effective,
            file_rows.change_type != 'retired' as is_live,
            file_rows.change_type != 'retired' as has_attributes,
            file_rows.export_date as changed_date
        from {{ ref(staging_model) }} as file_rows
        inner join nights
            on {{ same_values('file_rows', 'nights', partition) }} and file_rows.export_date <= nights.as_of_date
        where {{ in_values_of('file_rows.load_id', 'select effective_loads.load_id from effective_loads') }}

    ),

{%- if is_incremental() %}

    built as materialized (

        -- per partition, the night a record of it last changed; none for a partition not built yet (computed
        -- once, not per version read)
        select
            nights.*,
            {{ newest_built('changed_date', 'nights', partition) }} as watermark
        from nights

    ),

    since as (

        select case when bool_or(built.watermark is null) then '-infinity' else min(built.watermark) end as night
        from built

    ),

    redelivered as (

        -- districts whose file came more than once on a night from then on
        select distinct ledger.district_id
        from {{ ref('stg_sis__load_ledger') }} as ledger
        where
            ledger.file_name = '{{ file_name }}'
            and ledger.status in ('loaded', 'unchanged')
            and ledger.export_date >= (select since.night from since)
        group by ledger.district_id, ledger.export_date
        having count(*) > 1

    ),

    tonight as (

        -- the versions from the night each partition last changed up to the night it shows, of every delivery
        select file_rows.*
        from {{ ref(staging_model) }} as file_rows
        inner join built as nights
            on
                {{ same_values('file_rows', 'nights', partition) }}
                and file_rows.export_date <= nights.as_of_date
                and (
                    nights.watermark is null
                    or file_rows.export_date > nights.watermark
                    or (
                        file_rows.export_date = nights.watermark
                        and file_rows.district_id in (select redelivered.district_id from redelivered)
                    )
                )
        where file_rows.load_id = any(array(
            select ledger.load_id
            from {{ ref('stg_sis__load_ledger') }} as ledger
            where
                ledger.file_name = '{{ file_name }}'
                and ledger.status = 'loaded'
                and ledger.export_date >= (select since.night from since)
        ))

    ),

    changed_keys as (

        select distinct tonight.district_id, tonight.{{ identity | join(', tonight.') }}
        from tonight

    ),

    tonight_candidates as (

        select
            tonight.*,
            tonight.load_id in (select effective_loads.load_id from effective_loads) as is_effective,
            tonight.change_type != 'retired' as is_live
        from tonight

    ),

    candidates as (

        -- tonight's versions (one of a replaced delivery only shows a record that has no other)
        select
            tonight_candidates.*,
            tonight_candidates.is_live and tonight_candidates.is_effective as has_attributes,
            tonight_candidates.export_date as changed_date
        from tonight_candidates

        union all

        -- the state each changed record had
        select
{%- for column in columns %}
            built.{{ column }},
            {%- endfor %}
            true as is_effective,
            not built.is_retired as is_live,
            built.has_attributes,
            built.changed_date
        from {{ this }} as built
        inner join changed_keys
            on {{ same_values('built', 'changed_keys', record) }}
        where built.district_id not in (select redelivered.district_id from redelivered)

        union all

        -- every effective version of the changed records of a district with a night delivered more than once
        select effective_versions.*
        from effective_versions
        inner join changed_keys
            on {{ same_values('effective_versions', 'changed_keys', record) }}
        where effective_versions.district_id in (select redelivered.district_id from redelivered)

    ),
    {%- else %}

    candidates as (

        select * from effective_versions

    ),
{%- endif %}

    newest as (

        -- each record's newest version (a version of a replaced delivery only when it has no other)
        select {{ distinct_on(candidate_record) }}
            candidates.district_id,
            candidates.{{ identity | join(', candidates.') }},
            candidates.changed_date,
            candidates.is_effective and candidates.is_live as is_live
        from candidates
        {{ first_by(candidate_record, 'candidates.is_effective desc, candidates.changed_date desc') }}

    ),

    newest_live as (

        -- the attributes shown: the newest live version (a retired record keeps its last ones)
        select {{ distinct_on(candidate_record) }}
            candidates.*
        from candidates
        {{ first_by(candidate_record, 'candidates.has_attributes desc, candidates.is_effective desc, candidates.export_date desc') }}

    ),

    records as (

        select
{%- for column in columns %}
            newest_live.{{ column }},
            {%- else %}
            newest_live.*,
{%- endfor %}
            newest_live.has_attributes,
            not newest.is_live as is_retired,
            newest.changed_date,
            case when newest.is_live then newest_live.export_date end as last_changed_date,
            -- a retired record: the last night its file carried it (the file's last accepted night before)
            case when not newest.is_live then coalesce((
                select max(accepted.export_date)
                from {{ ref('int_loads_accepted') }} as accepted
                where
                    accepted.district_id = newest.district_id
                    and accepted.records_model = '{{ this.name }}'
                    and accepted.export_date < newest.changed_date
            ), newest_live.export_date) end as last_delivered_date,
            {% if is_incremental() %}{{ run_date() }}{% else %}newest.changed_date{% endif %} as changed_on
        from newest_live
        inner join newest
            on {{ same_values('newest_live', 'newest', record) }}

    )
{%- if mapped %}{% do ref(mapped) %}{% do ref('stg_sis__load_ledger') %}
    ,

    {{ mapped_records(mapped, staging_model, record, partition, columns) }}

    select * from records
    union all
    select * from mapped_records
{%- else %}

    select * from records
{%- endif %}
{%- endmacro %}

{#- The records a OneRoster district's files fill in one of our records models (`mapped`: the model mapping
    them, models/intermediate/oneroster/), as the CTE `mapped_records` with the columns of `records`. OneRoster
    records come whole (a bulk file) or as changes (a delta file), and one of ours is made from several of
    theirs, so the mapped state of a partition is compared with the partition as built: a record new or with
    other attributes is written, one no longer mapped is retired, an unchanged one is left as it is. A
    partition (district and school year, or district) is mapped again on the nights it shows (rec_nights: its
    model group refreshed and a file filling it came); on a full refresh every partition is. A mapping model
    has our staging model's columns and `mapped_until`: for a record its export no longer lists (a staff
    member of an earlier year), the last night it showed; such a record is kept retired, as ours are. -#}
{% macro mapped_records(mapped, staging_model, record, partition, columns) -%}
{%- set meta = ['district_id', 'load_id', 'export_date', 'line_number', 'change_type', 'key_hash'] -%}
{%- set attributes = columns | reject('in', meta) | list -%}
{#- a column of ours the mapping does not fill (one added to our spec since) is empty for OneRoster -#}
{%- set typed = {} -%}
{%- set filled = [] -%}
{%- if execute and columns -%}
{%- for column in adapter.get_columns_in_relation(ref(staging_model)) -%}
{%- do typed.update({column.name: column.data_type}) -%}
{%- endfor -%}
{%- for column in adapter.get_columns_in_relation(ref(mapped)) -%}
{%- do filled.append(column.name) -%}
{%- endfor -%}
{%- endif -%}
{%- set selected = [] -%}
{%- for column in columns -%}
{%- if column in filled -%}
{%- do selected.append('mapped.' ~ column) -%}
{%- else -%}
{%- do selected.append('cast(null as ' ~ typed[column] ~ ') as ' ~ column) -%}
{%- endif -%}
{%- endfor -%}
{%- if not columns %}
    mapped_records as (select * from records where false)
{%- else %}
    mapped_nights as (

        -- the partitions of the districts delivering OneRoster that show a night they were not mapped as of yet
        -- (tonight's, or one whose build did not run); all on a full refresh
        select rec_nights.district_id, rec_nights.school_year, rec_nights.as_of_date
        from {{ ref('rec_nights') }} as rec_nights
        where
            rec_nights.records_model = '{{ this.name }}'
            and rec_nights.district_id in (
                select ledger.district_id
                from {{ ref('stg_sis__load_ledger') }} as ledger
                where ledger.file_name like 'oneroster/%'
            )
            and {% if is_incremental() %}(
                rec_nights.as_of_date = {{ run_date() }}
                or rec_nights.as_of_date > coalesce(
                    {{ newest_built('changed_date', 'rec_nights', partition) }}, '-infinity'::date
                )
            ){% else %}true{% endif %}

    ),

    mapped_state as (

        select
            {{ selected | join(',\n            ') }},
            mapped.mapped_until,
            mapped_nights.as_of_date,
            {{ values_hash('mapped', attributes | select('in', filled) | list) }} as content_hash
        from {{ ref(mapped) }} as mapped
        inner join mapped_nights
            on {{ same_values('mapped', 'mapped_nights', partition) }}

    ),
{%- if is_incremental() %}

    mapped_built as (

        -- the partitions' live records as built
        select
            built.*,
            mapped_nights.as_of_date,
            {{ values_hash('built', attributes | select('in', filled) | list) }} as content_hash
        from {{ this }} as built
        inner join mapped_nights
            on {{ same_values('built', 'mapped_nights', partition) }}
        where not built.is_retired

    ),
{%- endif %}

    mapped_records as (

        -- listed: new, or with other attributes than built
        select
{%- for column in columns %}
            mapped_state.{{ column }},
{%- endfor %}
            true as has_attributes,
            false as is_retired,
            mapped_state.as_of_date as changed_date,
            mapped_state.as_of_date as last_changed_date,
            cast(null as date) as last_delivered_date,
            {% if is_incremental() %}{{ run_date() }}{% else %}mapped_state.as_of_date{% endif %} as changed_on
        from mapped_state
{%- if is_incremental() %}
        left join mapped_built
            on {{ same_values('mapped_state', 'mapped_built', record) }}
        where
            mapped_state.mapped_until is null
            and mapped_built.content_hash is distinct from mapped_state.content_hash
{%- else %}
        where mapped_state.mapped_until is null
{%- endif %}

        union all

        -- no longer listed (kept, retired; tonight: only one built live)
        select
{%- for column in columns %}
            mapped_state.{{ column }},
{%- endfor %}
            true as has_attributes,
            true as is_retired,
            mapped_state.as_of_date as changed_date,
            cast(null as date) as last_changed_date,
            mapped_state.mapped_until as last_delivered_date,
            {% if is_incremental() %}{{ run_date() }}{% else %}mapped_state.as_of_date{% endif %} as changed_on
        from mapped_state
{%- if is_incremental() %}
        inner join mapped_built
            on {{ same_values('mapped_state', 'mapped_built', record) }}
{%- endif %}
        where mapped_state.mapped_until is not null
{%- if is_incremental() %}

        union all

        -- built, no longer mapped at all (its OneRoster record was retired): retired
        select
{%- for column in columns %}
            mapped_built.{{ column }},
{%- endfor %}
            mapped_built.has_attributes,
            true as is_retired,
            mapped_built.as_of_date as changed_date,
            cast(null as date) as last_changed_date,
            -- the last night before that the partition showed (as for our files: the last accepted night)
            coalesce((
                select max(accepted.export_date)
                from {{ ref('int_loads_accepted') }} as accepted
                where
                    accepted.district_id = mapped_built.district_id
                    and accepted.records_model = '{{ this.name }}'
                    and accepted.export_date < mapped_built.as_of_date
            ), mapped_built.last_changed_date) as last_delivered_date,
            {{ run_date() }} as changed_on
        from mapped_built
        where not exists (
            select 1 from mapped_state
            where {{ same_values('mapped_state', 'mapped_built', record) }}
        )
{%- endif %}

    )
{%- endif %}
{%- endmacro %}

{#- The partition of a records model or a mart built from it: district and school year, or the district. -#}
{% macro record_partition(by_school_year) -%}
{{ return(['district_id', 'school_year'] if by_school_year else ['district_id']) }}
{%- endmacro %}

{#- The newest `column` of this model's rows in the partition of `nights`' row (null: none built yet). -#}
{% macro newest_built(column, nights, partition) -%}
    (
        select max(built.{{ column }})
        from {{ this }} as built
        where {{ same_values('built', nights, partition) }}
    )
{%- endmacro %}

{#- `left.c = right.c and ...` for each of `columns`. -#}
{% macro same_values(left, right, columns) -%}
{%- for column in columns -%}
{{ left }}.{{ column }} = {{ right }}.{{ column }}{{ ' and ' if not loop.last }}
{%- endfor -%}
{%- endmacro %}

{#- For a OneRoster record of a file without school years mapped from its newest school year (`alias`, with
    district_id and school_year): null while that year is the district's newest (`newest_year`, a column the
    caller joins, once per district), else the last night `records_model` showed while its year was the
    newest: the last night the export listed it. -#}
{% macro oneroster_mapped_until(alias, newest_year, records_model) -%}
    case
        when {{ alias }}.school_year < {{ newest_year }} then (
            select max(accepted.export_date)
            from {{ ref('int_loads_accepted') }} as accepted
            where
                accepted.district_id = {{ alias }}.district_id
                and accepted.records_model = '{{ records_model }}'
                and accepted.main_school_year <= {{ alias }}.school_year
        )
    end
{%- endmacro %}
