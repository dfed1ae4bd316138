"""Querysets compiled once, run many times: the hot reads' ORM without its per-request cost.

Building a queryset and compiling it to SQL costs Django 0.2-0.5 ms a query, several
times what PostgreSQL needs to run it on loopback. A hot read pays that on every
request for the same SQL with other values. `PreparedQuery` keeps the queryset as
the one definition of the read, compiles it once per process and database (with
placeholder values standing for the parameters), and then only runs the SQL with
each call's values, turning rows into model instances as the queryset would
(select_related relations and annotations included).

    CURRENT = PreparedQuery(
        lambda company_id, context_hash: HealthSummary.objects.filter(
            company_id=company_id, context_hash=context_hash
        )[:1],
        company_id=int,
        context_hash=str,
    )
    rows = CURRENT(company_id=3, context_hash="ab12...")

Parameters are ints or strings, the values of lookups (not lists: an `IN` of varying
length is other SQL). A value that changes the SQL text itself, a LIMIT say, goes in
`shape=`: each shape is compiled once (a bounded number of them are kept).
Not supported (refused when compiled): prefetch_related, values()/values_list().

`JoinedQuery` runs a head (the membership a request is authorized by) and the queries
it guards (`Tail`s: the content) as one statement; each tail's rows then wait in a
`Preloaded` for the call that asks for them. `PreparedSQL` is hand-written SQL that
can be a tail too.
"""

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, get_related_populators

# Placeholder values, told apart from constants by compiling twice (_compile).
_INT_A = 32001
_INT_B = 32201
_STR_MARK = "\x1fprepared-parameter:"
_SQL_CHANGES = "the parameters change the SQL itself: pass such a value as shape="
MAX_SHAPES = 64


class _Compiled:
    __slots__ = (
        "annotations",
        "converters",
        "init_list",
        "model",
        "model_end",
        "model_start",
        "names",
        "params",
        "populators",
        "sql",
        "width",
    )

    def position_of(self, name: str) -> int:
        """The column of an annotation or of a field of the queried model."""
        for annotation, position in self.annotations:
            if annotation == name:
                return position
        if name in self.init_list:
            return self.model_start + self.init_list.index(name)
        raise ValueError(f"{self.model.__name__} query has no column {name!r}")


class PreparedQuery:
    def __init__(self, build: Callable[..., QuerySet], **parameters: type) -> None:
        for name, kind in parameters.items():
            if kind not in (int, str):
                raise TypeError(f"parameter {name!r}: only int and str parameters are prepared")
        self.build = build
        self.parameters = parameters
        # Per process, not per thread: under ASGI a request may run on a thread of its
        # own, and a per-thread cache would compile on every request.
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict) -> "PreparedQuery":
        # Shared, not copied: DRF deep-copies its fields' arguments for every serializer.
        return self

    def __call__(
        self,
        *,
        using: str = DEFAULT_DB_ALIAS,
        shape: Hashable = (),
        preloaded: "Preloaded | None" = None,
        **values: Any,
    ) -> list[Model]:
        """The rows for these values. `preloaded`: what a JoinedQuery read for this
        call, used instead of running the query when it holds exactly this call."""
        if preloaded is not None:
            rows = preloaded.take(self, shape, values)
            if rows is not None:
                return rows
        compiled = self._compiled(using, shape)
        params = [values[p[1]] if isinstance(p, tuple) else p for p in compiled.params]
        with bound_cursor(connections[using]) as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return self._instances(compiled, rows, using)

    # --- compiling, once per process, database and shape --------------------------------

    def _compiled(self, using: str, shape: Hashable) -> _Compiled:
        key = (using, shape)
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is not None:
                self._cache.move_to_end(key)
                return compiled
        compiled = self._compile(using, shape)  # two threads may both compile: harmless
        with self._lock:
            self._cache[key] = compiled
            if len(self._cache) > MAX_SHAPES:
                self._cache.popitem(last=False)
        return compiled

    def _compile(self, using: str, shape: Hashable) -> _Compiled:
        # Compiled twice, with two sets of placeholder values: a parameter is a position
        # whose value follows the placeholder in both, and everything else (the SQL, the
        # constants) must not change. The ints stay small: Django drops or empties a
        # lookup whose value is out of the field's range.
        first, first_params, compiler = self._compile_with(using, shape, _INT_A, "a")
        second, second_params, _ = self._compile_with(using, shape, _INT_B, "b")
        if first != second or len(first_params) != len(second_params):
            raise ValueError(_SQL_CHANGES)
        names = list(self.parameters)
        template: list[Any] = []
        for a, b in zip(first_params, second_params, strict=True):
            name = _placeholder_name(a, names, _INT_A, "a")
            if name is not None and name == _placeholder_name(b, names, _INT_B, "b"):
                template.append(("param", name))
            elif a == b:
                template.append(a)
            else:
                raise ValueError(_SQL_CHANGES)
        missing = set(self.parameters) - {p[1] for p in template if isinstance(p, tuple)}
        if missing:
            raise ValueError(f"parameters not used by the query: {sorted(missing)}")
        sql = first
        compiled = _Compiled()
        compiled.sql, compiled.params = sql, template
        klass_info, select = compiler.klass_info, compiler.select
        compiled.model = klass_info["model"]
        fields = klass_info["select_fields"]
        compiled.model_start, compiled.model_end = fields[0], fields[-1] + 1
        compiled.init_list = [
            f[0].target.attname for f in select[compiled.model_start : compiled.model_end]
        ]
        compiled.populators = get_related_populators(klass_info, select, using)
        compiled.annotations = list(compiler.annotation_col_map.items())
        compiled.width = len(select)
        columns = [s[0] for s in select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise TypeError("PreparedQuery does not run querysets with composite fields")
        # Positions and functions only: they are applied with the running thread's
        # connection (_instances), not the one that compiled.
        compiled.converters = list(compiler.get_converters(columns).items())
        return compiled

    def _compile_with(self, using: str, shape: Hashable, base: int, mark: str):
        placeholders = {
            name: (base + i if kind is int else f"{_STR_MARK}{mark}:{name}")
            for i, (name, kind) in enumerate(self.parameters.items())
        }
        queryset = self.build(**placeholders, **({"shape": shape} if shape != () else {}))
        if queryset._prefetch_related_lookups or queryset._iterable_class is not ModelIterable:
            raise TypeError("PreparedQuery runs querysets of model instances only")
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        return sql, list(params), compiler

    @staticmethod
    def _instances(compiled: _Compiled, rows: list[tuple], using: str) -> list[Model]:
        if not rows:
            return []
        start, end = compiled.model_start, compiled.model_end
        from_db, init_list = compiled.model.from_db, compiled.init_list
        objects = []
        if compiled.converters:
            rows = _converted(rows, compiled.converters, connections[using])
        for row in rows:
            obj = from_db(using, init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            for name, position in compiled.annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def bound_cursor(connection):
    """A cursor whose parameters PostgreSQL binds itself (Django's cursors bind them on
    the client, into the SQL text), for the statements of the hot reads.

    With literal values in its text, a statement cannot be prepared, and PostgreSQL
    plans it anew each time: planning the read lookups' joins and subqueries took
    0.45-0.6 ms, several times running them. With its values as parameters, psycopg
    prepares it once a connection has run it DB_PREPARE_THRESHOLD times, and the plan
    is reused (0.06-0.13 ms a run). It is still Django's cursor wrapper (its error
    translation, its query log: the tests count these queries like any other). Other
    databases get their usual cursor.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _LoggedCursor(cursor, connection)
    return connection.make_cursor(cursor)


class _LoggedCursor(CursorDebugWrapper):
    """The query log's entry for a bound statement: its SQL with the values in place
    (Django reads the text from the client-side binding, which a bound statement has
    not got)."""

    def execute(self, sql, params=None):
        started = time.monotonic()
        try:
            return CursorWrapper.execute(self, sql, params)  # wrappers, error translation
        finally:
            duration = time.monotonic() - started
            self.db.queries_log.append(
                {"sql": self.db.ops.compose_sql(sql, params), "time": f"{duration:.3f}"}
            )


def _converted(rows: list[tuple], converters: list, connection) -> list[list]:
    """Django's SQLCompiler.apply_converters, with the given connection."""
    converted = []
    for row in map(list, rows):
        for position, (functions, expression) in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        converted.append(row)
    return converted


def _placeholder_name(value: Any, names: list[str], base: int, mark: str) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value - base < len(names):
        name = names[value - base]
    elif isinstance(value, str) and value.startswith(f"{_STR_MARK}{mark}:"):
        name = value[len(_STR_MARK) + len(mark) + 1 :]
    else:
        return None
    return name if name in names else None


TOTAL = "prepared_total"


class PreparedRows:
    """A prepared query's rows as a paginator or a slice reads them, each read one
    statement: `page_rows()` returns a page and the total (a window count in the same
    statement), a slice returns those rows, `count()` counts `counted()` (a queryset,
    built only when a page has no row to carry the total). `preloaded`: what a
    JoinedQuery read for this page (PreparedQuery's `preloaded`).

    `query` is a PreparedQuery whose build takes `shape=(offset, stop)` and annotates
    `prepared_total=Window(Count("*"))` (see `page_of`)."""

    def __init__(
        self,
        query: PreparedQuery,
        counted: Callable[[], QuerySet],
        preloaded: "Preloaded | None" = None,
        **values: Any,
    ) -> None:
        self.query, self.counted, self.values = query, counted, values
        self.preloaded = preloaded

    def page_rows(self, *, offset: int, limit: int) -> tuple[list[Model], int | None]:
        rows = self._rows((offset, offset + limit))
        return rows, (getattr(rows[0], TOTAL) if rows else None)

    def __getitem__(self, item: slice) -> list[Model]:
        if not isinstance(item, slice) or item.step is not None:
            raise TypeError("PreparedRows takes a slice with a start and a stop")
        return self._rows((item.start or 0, item.stop))

    def _rows(self, shape: tuple[int, int]) -> list[Model]:
        return self.query(shape=shape, preloaded=self.preloaded, **self.values)

    def count(self) -> int:
        return self.counted().count()


def page_of(queryset: QuerySet, shape: tuple[int, int]) -> QuerySet:
    """`queryset` sliced by a PreparedRows shape, with the window total it reads."""
    from django.db.models import Count, Window

    offset, stop = shape
    return queryset.annotate(**{TOTAL: Window(Count("*"))})[offset:stop]


# --- a membership and the content it guards, in one statement -------------------------


class Preloaded:
    """The rows a JoinedQuery read for later calls of its tails: each used by the call
    with its query, shape and values, and only once, so a read after a write (content
    just generated) runs the query again."""

    __slots__ = ("entries",)

    def __init__(self, entries: list[tuple[Any, Hashable, dict[str, Any], Any]]) -> None:
        self.entries = entries

    def take(self, query: Any, shape: Hashable, values: dict[str, Any]) -> Any:
        for i, (tail, tail_shape, tail_values, rows) in enumerate(self.entries):
            if tail is query and tail_shape == shape and tail_values == values:
                del self.entries[i]
                return rows
        return None


class Tail:
    """A query a JoinedQuery reads after its head, and the head columns (a field's
    attname or an annotation) that feed its parameters: `Tail(query, company_id="id")`."""

    def __init__(self, query: "PreparedQuery | PreparedSQL", **bind: str) -> None:
        unknown = set(bind) - set(query.parameters)
        if unknown:
            raise ValueError(f"the tail has no parameters {sorted(unknown)}")
        self.query, self.bind = query, bind
        self.free = {n: k for n, k in query.parameters.items() if n not in bind}


class PreparedSQL:
    """Hand-written SQL with named parameters, for a read whose rows are not model
    instances: calling it returns (column names, rows). `sql(connection)` returns the
    SQL and its column names, once per process and database; `params` lists, in the
    order of the SQL's `%s`, a parameter's name or a `Const` value."""

    def __init__(self, sql: Callable[[Any], tuple[str, list[str]]], *params: "str | Const") -> None:
        self.sql = sql
        self.parameters = {p: Any for p in params if isinstance(p, str)}
        self._template = [("param", p) if isinstance(p, str) else p.value for p in params]
        self._cache: dict[str, _Compiled] = {}

    def __call__(
        self, *, using: str = DEFAULT_DB_ALIAS, preloaded: Preloaded | None = None, **values: Any
    ) -> tuple[list[str], list[tuple]]:
        if preloaded is not None:
            found = preloaded.take(self, (), values)
            if found is not None:
                return found
        compiled = self._compiled(using, ())
        params = [values[p[1]] if isinstance(p, tuple) else p for p in compiled.params]
        with bound_cursor(connections[using]) as cursor:
            cursor.execute(compiled.sql, params)
            # Names known beforehand: psycopg builds its description anew on each call.
            return compiled.names, cursor.fetchall()

    def _compiled(self, using: str, shape: Hashable) -> _Compiled:
        compiled = self._cache.get(using)
        if compiled is None:
            compiled = _Compiled()
            compiled.sql, compiled.names = self.sql(connections[using])
            compiled.width = len(compiled.names)
            compiled.params = self._template
            placeholders = [m for m in _PLACEHOLDER.findall(compiled.sql) if m == "%s"]
            if len(placeholders) != len(compiled.params):
                raise ValueError("PreparedSQL: one name or Const for each %s of the SQL")
            self._cache[using] = compiled
        return compiled


class Const:
    """A constant value in a PreparedSQL's parameters."""

    def __init__(self, value: Any) -> None:
        self.value = value


_PLACEHOLDER = re.compile(r"%%|%s")


class JoinedQuery:
    """A head query (a membership: the token's user, the route's company) and the
    queries the request reads next (its content, `Tail`s), in one statement and one
    round trip:

        WITH h AS MATERIALIZED (<head>)
        SELECT 0, h.*, e1.*, ... FROM h LEFT JOIN LATERAL (<tail 1>) e1 ON FALSE ...
        UNION ALL SELECT 1, NULL, ..., t1.*, NULL, ... FROM h CROSS JOIN LATERAL (<tail 1>) t1
        UNION ALL ...

    A tail's `bind` feeds its parameters from head columns, so it reads with what the
    head found (the company's current context, say). The head must return at most one
    row; no head row means no row at all (the caller falls back to its usual path).
    Called with the head's and the tails' other parameters (a name the tails share
    takes one value) and each tail's shape (`shapes`, in order), it returns the head's
    instances and a Preloaded holding each tail's rows for the tail call the request
    makes next, with the bound values taken from the head row.

    Each part's columns come once, NULL elsewhere. (Repeating the head on each tail row
    cost more than the round trip saved: PostgreSQL sends and psycopg loads every value
    again; picking them out with CASE cost as much on the server.) UNION ALL appends
    its branches in order and a lateral tail keeps its own ORDER BY and LIMIT, so the
    rows come in each tail's order. PostgreSQL only; other databases run the head
    alone and the tails run themselves (Preloaded None).
    """

    def __init__(self, head: PreparedQuery, *tails: Tail) -> None:
        self.head, self.tails = head, tails
        free: dict[str, type] = {}
        for tail in tails:
            free.update(tail.free)
        shared = set(head.parameters) & set(free)
        if shared:
            raise ValueError(f"head and tail both take {sorted(shared)}: bind them")
        self.parameters = {**head.parameters, **free}
        self._cache: dict[tuple, tuple] = {}
        self._lock = threading.Lock()

    def __call__(
        self, *, using: str = DEFAULT_DB_ALIAS, shapes: tuple = (), **values: Any
    ) -> tuple[list[Model], Preloaded | None]:
        shapes = tuple(shapes) + ((),) * (len(self.tails) - len(shapes))
        if connections[using].vendor != "postgresql":
            head_values = {n: values[n] for n in self.head.parameters}
            return self.head(using=using, **head_values), None
        head, tails, sql, params = self._joined(using, shapes)
        args = [values[p[1]] if isinstance(p, tuple) else p for p in params]
        with bound_cursor(connections[using]) as cursor:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        if not rows:
            return [], None
        first = rows[0][1 : 1 + head.width]
        found = self.head._instances(head, [first], using)
        parts: list[list[tuple]] = [[] for _ in self.tails]
        for row in rows[1:]:
            if row[0] == 0:
                raise ValueError("a JoinedQuery's head must return at most one row")
            parts[row[0] - 1].append(row)
        entries = []
        start = 1 + head.width
        for i, (tail, compiled) in enumerate(zip(self.tails, tails, strict=True)):
            stop = start + compiled.width
            tail_rows = [row[start:stop] for row in parts[i]]
            start = stop
            if isinstance(tail.query, PreparedSQL):
                read: Any = (compiled.names, tail_rows)
            else:
                read = tail.query._instances(compiled, tail_rows, using)
            tail_values = {n: values[n] for n in tail.free}
            tail_values.update({n: first[head.position_of(c)] for n, c in tail.bind.items()})
            entries.append((tail.query, shapes[i], tail_values, read))
        return found, Preloaded(entries)

    def _joined(self, using: str, shapes: tuple) -> tuple:
        key = (using, shapes)
        joined = self._cache.get(key)
        if joined is None:
            head = self.head._compiled(using, ())
            tails = [t.query._compiled(using, s) for t, s in zip(self.tails, shapes, strict=True)]
            aliases = ", ".join(f'"_j{i}"' for i in range(head.width))
            widths = [head.width, *(t.width for t in tails)]

            def nulls(*parts: int) -> list[str]:
                return ["NULL"] * sum(widths[p] for p in parts)

            bound = []
            for tail, compiled in zip(self.tails, tails, strict=True):
                refs = {n: f'h."_j{head.position_of(c)}"' for n, c in tail.bind.items()}
                bound.append(_bind_parameters(compiled.sql, compiled.params, refs))
            # The head's branch takes its NULLs from the tails joined ON FALSE (not
            # run): typed, so that UNION ALL can match each column of every branch.
            # (Plain NULLs in two branches become text, which then fails to match.)
            empty = " ".join(
                f"LEFT JOIN LATERAL ({sql}) AS e{i} ON FALSE" for i, (sql, _) in enumerate(bound, 1)
            )
            typed = ", ".join(f"e{i}.*" for i in range(1, len(widths)))
            branches = [f"0, h.*, {typed} FROM h {empty}"]
            # In the SQL's order: the head's, every tail's in the head branch's empty
            # joins, then each tail's again in its own branch.
            params = [*head.params, *(p for _, tail_params in bound for p in tail_params)]
            for i, (tail_sql, tail_params) in enumerate(bound, 1):
                columns = [
                    str(i),
                    *nulls(*range(i)),
                    f"t{i}.*",
                    *nulls(*range(i + 1, len(widths))),
                ]
                branches.append(
                    f"{', '.join(columns)} FROM h CROSS JOIN LATERAL ({tail_sql}) AS t{i}"
                )
                params += tail_params
            sql = f"WITH h({aliases}) AS MATERIALIZED ({head.sql}) SELECT " + (
                " UNION ALL SELECT ".join(branches)
            )
            joined = (head, tails, sql, params)
            with self._lock:
                if len(self._cache) >= MAX_SHAPES:
                    self._cache.clear()
                self._cache[key] = joined
        return joined


def _bind_parameters(sql: str, params: list, refs: dict[str, str]) -> tuple[str, list]:
    """`sql` with the placeholders of the parameters named in `refs` replaced by the
    referenced columns, and the parameters that remain."""
    remaining: list = []
    position = iter(params)

    def replace(match: re.Match) -> str:
        if match.group() == "%%":
            return "%%"
        param = next(position)
        if isinstance(param, tuple) and param[1] in refs:
            return refs[param[1]]
        remaining.append(param)
        return "%s"

    return _PLACEHOLDER.sub(replace, sql), remaining
