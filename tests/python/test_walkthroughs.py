"""README, "Changing the project": the walkthroughs for adding a column and adding a model group, applied to a
copy of the project as written there (every file they list, and no other), then a night synced through the
copy: the new column reaches its mart and the new group syncs by its own rules."""

from __future__ import annotations

import datetime as dt
import shutil

from dbt.cli.main import dbtRunner
from export_files import rewrite_csv

from sis_sync import PROJECT_ROOT
from sis_sync.commands import run_ingest
from sis_sync.ingestion import spec as spec_module
from sis_sync.sample import write_export
from sis_sync.specdocs import render_data_spec, render_sources

NIGHT = dt.date(2026, 3, 16)
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "models", "macros", "seeds", "tests/generic",
                 "tests/integrity", "ingestion/spec/sis_export_v1.yml")


def _copy_project(to):
    for name in PROJECT_FILES:
        source, target = PROJECT_ROOT / name, to / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)


def _edit(path, before: str, after: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert before in text, (path, before)
    path.write_text(text.replace(before, after, 1), encoding="utf-8")


def _add_a_column(project) -> None:
    """README: Adding a column (students.csv gains `pronouns`, shown in dim_students)."""
    spec_path = project / "ingestion/spec/sis_export_v1.yml"
    _edit(spec_path, "      - {name: preferred_name, type: text, pii: true, description: Name the student goes by.,"
                     " example: Malu}\n",
          "      - {name: preferred_name, type: text, pii: true, description: Name the student goes by.,"
          " example: Malu}\n"
          "      - {name: pronouns, type: text, pii: true, description: The student's pronouns., example: she/her}\n")
    spec = spec_module.load_spec(spec_path)  # `sis-sync spec --write`, for this copy
    (project / "models/staging/sis/_sis__sources.yml").write_text(render_sources(spec), encoding="utf-8")
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs/data-specification.md").write_text(render_data_spec(spec), encoding="utf-8")
    _edit(project / "models/staging/sis/stg_sis__students.sql", "        source.preferred_name,\n",
          "        source.preferred_name,\n        source.pronouns,\n")
    _edit(project / "models/staging/sis/_sis__models.yml",
          "      - name: preferred_name\n        description: Name the student goes by.\n        tags: [pii]\n",
          "      - name: preferred_name\n        description: Name the student goes by.\n        tags: [pii]\n"
          "      - name: pronouns\n        description: The student's pronouns.\n        tags: [pii]\n")
    mart = project / "models/marts/dim_students.sql"
    _edit(mart, "        students.preferred_name,\n", "        students.preferred_name,\n        students.pronouns,\n")
    _edit(mart, "        student_details.preferred_name,\n",
          "        student_details.preferred_name,\n        student_details.pronouns,\n")
    _edit(project / "models/marts/dim_students.yml",
          "      - name: display_first_name\n",
          "      - name: pronouns\n        data_type: text\n        description: The student's pronouns.\n"
          "        tags: [pii]\n      - name: display_first_name\n")


def _add_a_model_group(project) -> None:
    """README: Adding a model group (staff.csv in a group of its own, `directory`, that syncs all summer), and
    moving a file to it (contacts.csv, read by the incremental contact marts)."""
    groups = project / "seeds/export_file_groups.csv"
    _edit(groups, "staff.csv,staff,", "staff.csv,directory,")
    _edit(groups, "contacts.csv,contacts,", "contacts.csv,directory,")
    rules = project / "seeds/season_refresh_rules.csv"
    _edit(rules, "in_session,staff,true\n", "in_session,directory,true\n")
    _edit(rules, "summer_pause,staff,false\n", "summer_pause,directory,true\n")
    _edit(rules, "in_session,contacts,true\n", "")
    _edit(rules, "summer_pause,contacts,true\n", "")


def test_the_column_and_model_group_walkthroughs_build(fresh_db, db_conn, tmp_path, monkeypatch):
    project = tmp_path / "project"
    _copy_project(project)
    _add_a_column(project)
    _add_a_model_group(project)
    monkeypatch.setattr(spec_module, "SPEC_PATH", project / "ingestion/spec/sis_export_v1.yml")

    drop = tmp_path / "drop"
    folder = write_export(drop, district_id="walk", export_date=NIGHT, students=80)
    students = []
    rewrite_csv(folder / "students.csv", lambda header, rows: (
        [*header, "pronouns"],
        students.extend(rows) or [[*row, "they/them" if i % 4 == 0 else ""] for i, row in enumerate(rows)]))
    assert run_ingest(None, drop, NIGHT, ()) == 0

    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))

    def build(night):
        monkeypatch.setenv("SIS_SYNC_RUN_DATE", night.isoformat())
        result = dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir", str(project),
                                     "--exclude-resource-type", "unit_test"])
        assert result.success, [str(r.message) for r in result.result or [] if str(r.status) in ("error", "fail")]

    build(NIGHT)
    with db_conn.cursor() as cur:
        cur.execute("select count(*) filter (where pronouns = 'they/them'), count(*) from marts.dim_students"
                    " where district_id = 'walk'")
        assert cur.fetchone() == (len(range(0, len(students), 4)), len(students))
        cur.execute("select distinct model_group from marts.sync_history where file_name = 'staff.csv'")
        assert cur.fetchall() == [("directory",)]
        cur.execute("select decision from intermediate.int_sync_nights where district_id = 'walk'"
                    " and model_group = 'directory'")
        assert cur.fetchall() == [("refresh",)]

    # the next night changes a contact's mobile phone: the incremental contact marts refresh it by the group
    # the seed now gives contacts.csv (no model names it)
    later = NIGHT + dt.timedelta(days=1)
    folder = drop / "walk" / later.isoformat()
    shutil.copytree(drop / "walk" / NIGHT.isoformat(), folder)
    changed = []

    def new_mobile(header, rows):  # the first contact's, on each of its rows
        contact_id, mobile = header.index("contact_id"), header.index("mobile_phone")
        changed.append(rows[0][contact_id])
        for row in rows:
            if row[contact_id] == changed[0]:
                row[mobile] = "(555) 010-4477"
        return header, rows

    rewrite_csv(folder / "contacts.csv", new_mobile)
    contact_id = changed[0]
    assert run_ingest(None, drop, later, ()) == 0
    build(later)
    with db_conn.cursor() as cur:
        cur.execute("select mobile_phone_e164 from marts.dim_contacts where district_id = 'walk'"
                    " and contact_id = %s", (contact_id,))
        assert cur.fetchall() == [("+15550104477",)]
