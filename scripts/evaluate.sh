#!/usr/bin/env bash
# dbt-project-evaluator over this project, in a scratch copy and a scratch database (dropped afterwards).
#
#     scripts/evaluate.sh /path/to/dbt-project-evaluator /path/to/dbt-utils     (or: make evaluate EVALUATOR=... DBT_UTILS=...)
#
# The two packages come from local checkouts (git clone https://github.com/dbt-labs/dbt-project-evaluator and
# .../dbt-utils): `dbt deps` needs the package hub, and the project itself installs no dbt package. The server
# is the PG* one (default 127.0.0.1:5432, user postgres; `eval "$(sis-sync env)"` for the embedded one).
# Prints every finding, one block per rule; README.md ("Project checks") explains the ones that stay.
set -euo pipefail

evaluator=$(realpath "${1:?path to a dbt-project-evaluator checkout}")
utils=$(realpath "${2:?path to a dbt-utils checkout}")
root=$(cd "$(dirname "$0")/.." && pwd)
dbt="$root/.venv/bin/dbt"
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGDATABASE="sis_evaluate_$$"
work=$(mktemp -d)
cleanup() {
    psql -q -d postgres -c "drop database if exists $PGDATABASE with (force)" || true
    rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && cp -r dbt_project.yml profiles.yml models macros seeds tests docs "$work/")
mkdir "$work/dbt_packages"
cp -r "$evaluator" "$work/dbt_packages/dbt_project_evaluator"
cp -r "$utils" "$work/dbt_packages/dbt_utils"
rm -f "$work/dbt_packages/dbt_project_evaluator/packages.yml"  # its dbt_utils is the copy beside it
rm -rf "$work"/dbt_packages/*/.git "$work"/dbt_packages/*/integration_tests*

psql -q -d postgres -c "create database $PGDATABASE"
"$dbt" build --project-dir "$work" --profiles-dir "$work" --select package:dbt_project_evaluator --quiet

psql -qAt -c "select table_name from information_schema.tables
              where table_schema = 'analytics' and table_name like 'fct\_%' order by 1" |
while read -r rule; do
    found=$(psql -qAt -F ' | ' -c "select * from analytics.$rule" | grep -v '^$' || true)
    if [ -n "$found" ] && [ "$rule" != fct_test_coverage ] && [ "$rule" != fct_documentation_coverage ]; then
        printf '\n== %s (%s)\n%s\n' "$rule" "$(printf '%s\n' "$found" | wc -l)" "$found"
    fi
done
printf '\n== coverage (tests, documentation)\n'
psql -qAt -F ' | ' -c "select 'tests ' || test_coverage_pct || '%' from analytics.fct_test_coverage"
psql -qAt -F ' | ' -c "select 'documentation ' || documentation_coverage_pct || '%' from analytics.fct_documentation_coverage"
