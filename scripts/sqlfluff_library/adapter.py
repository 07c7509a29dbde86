"""dbt's `adapter` for sqlfluff's Jinja templater (.sqlfluff: library_path): `adapter.dispatch(name)` gives the
macro's Postgres form (`postgres__`, else `default__`), so models that call the engine macros of macros/engines/
lint as they compile on Postgres."""

import jinja2


@jinja2.pass_context
def dispatch(context, macro_name, macro_namespace=None):
    postgres = context.resolve(f"postgres__{macro_name}")
    return context.resolve(f"default__{macro_name}") if isinstance(postgres, jinja2.Undefined) else postgres
