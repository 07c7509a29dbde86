{#- Post-hook of every mart: BI's read-only role may read it, and row-level security limits a role mapped in
    access.district_roles to its districts' rows (roles not mapped there see every district). Both the
    current role and the login (session) role are judged, so a mapped login cannot widen what it sees by
    `set role` to a role it holds; a superuser's session is judged by its current role alone. Roles are
    matched by oid, so a renamed role keeps its mapping. Runs on each
    build because a rebuilt table starts with no grants and no policies. Each part applies only when its
    role or table exists (see `sis-sync roles`, which also grants the schema's usage once: granting it here
    from several dbt threads at once collides). -#}
{% macro secure_mart() -%}
    {{ return(adapter.dispatch('secure_mart')()) }}
{%- endmacro %}

{#- Other engines: grants and row filters are the platform's (e.g. Unity Catalog); nothing here. -#}
{% macro default__secure_mart() -%}
{%- endmacro %}

{% macro postgres__secure_mart() -%}
    do $secure$
    begin
        if exists (select 1 from pg_roles where rolname = 'sis_reader') then
            grant select on {{ this }} to sis_reader;
        end if;
        if to_regclass('access.district_roles') is not null then
            alter table {{ this }} enable row level security;
            drop policy if exists district_rows on {{ this }};
            create policy district_rows on {{ this }} for select using (
                {{ district_visible_to('current_user') }}
                and (
                    (select rolsuper from pg_roles where rolname = session_user)
                    or {{ district_visible_to('session_user') }}
                )
            );
        end if;
    end
    $secure$
{%- endmacro %}

{#- Whether the row's district is visible to `who` (current_user or session_user): `who` is a member of no
    mapped role, or of a role mapped to the district. -#}
{% macro district_visible_to(who) -%}
    (
        not exists (
            select 1
            from access.district_roles as mapped
            inner join pg_roles on mapped.role_oid = pg_roles.oid
            where pg_has_role({{ who }}, pg_roles.oid, 'member')
        )
        or district_id in (
            select mapped.district_id
            from access.district_roles as mapped
            inner join pg_roles on mapped.role_oid = pg_roles.oid
            where pg_has_role({{ who }}, pg_roles.oid, 'member')
        )
    )
{%- endmacro %}
