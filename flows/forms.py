"""The Run form: a flow's parameters are the params.yaml sections of the stages it runs.

Each section becomes a pydantic model built from the one schema
(``tasks/common/params.py``): the same types, ranges, choices (a drop-down in the
Prefect UI) and descriptions, with ``params.yaml``'s values as the defaults. A user can
change any parameter of the flow's stage tree; what differs from ``params.yaml`` when
the run starts is an override, and a run with overrides is a DVC experiment
(``flows/runner.py``). Nothing is read at import: :class:`FlowForms` is built from one
reading of params.yaml by whoever builds the flows (``flows/serve.py`` when it serves,
a flow module's ``ner_flow``/``tags_flow``/``pipeline_flow`` attribute when it is
looked up). A served deployment shows the values of the moment it was (re)served, and
the values a user submits are the values that run.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from tasks.common.params import Params, ParamsError, flatten, read_raw
from tasks.common.settings import PROJECT_ROOT, quiet_environment

if TYPE_CHECKING:
    from prefect import Flow


class FormSection(BaseModel):
    # Not strict: the UI sends JSON (an integer for a float field is fine); the merged
    # parameters are checked by the strict schema before any work starts.
    model_config = ConfigDict(extra="forbid")


def current_values(root: Path = PROJECT_ROOT) -> dict:
    """params.yaml under ``root`` as it is now; {} when it is broken (the run itself
    reports the broken file, naming it)."""
    try:
        return read_raw(root / "params.yaml")
    except ParamsError:
        return {}


def form_model(schema: type[BaseModel], values: dict, name: str) -> type[FormSection]:
    """``schema`` with every field defaulting to ``values`` (nested models recursively)."""
    fields: dict[str, Any] = {}
    for key, info in schema.model_fields.items():
        value = values.get(key) if isinstance(values, dict) else None
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sub = form_model(annotation, value or {}, f"{name}.{key}")
            fields[key] = (sub, Field(default_factory=sub, description=f"params.yaml section {name}.{key}"))
        else:
            typed = Annotated[annotation, *info.metadata] if info.metadata else annotation
            fields[key] = (typed, Field(default=value, description=info.description))
    return create_model(name, __base__=FormSection, **fields)


@dataclass(frozen=True)
class FlowForms:
    """The Run forms of the flows, all from one reading of params.yaml (``values``).
    Flows that pass sections to each other (the pipeline to its subflows) must be built
    from one FlowForms, so that they share the section classes."""

    values: dict
    _tops: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def read(cls, root: Path = PROJECT_ROOT) -> FlowForms:
        return cls(current_values(root))

    def top(self, top: str) -> type[FormSection]:
        """One model for a whole top-level section (``ner`` or ``tags``; the pipeline flow's form)."""
        if top not in self._tops:
            self._tops[top] = form_model(Params.model_fields[top].annotation, self.values.get(top) or {}, top)
        return self._tops[top]

    def sections(self, top: str) -> dict[str, type[FormSection]]:
        """The form models of one top-level section, one per subsection (``tags.sage``...)."""
        return {key: info.annotation for key, info in self.top(top).model_fields.items()}


def overrides_from(top: str, chosen: dict[str, Any], root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The dotted keys whose chosen value differs from params.yaml now (when the run
    starts, not when its form was built). A key params.yaml lacks is kept, so that
    validation names it."""
    def dump(value: Any) -> Any:
        return value.model_dump() if isinstance(value, BaseModel) else value

    wanted = flatten({top: {key: dump(value) for key, value in chosen.items()}})
    current = flatten({top: current_values(root).get(top) or {}})
    return {key: value for key, value in wanted.items() if key not in current or not _equal(current[key], value)}


def _equal(a: Any, b: Any) -> bool:
    """Equal values of the same kind (1 and 1.0 are the same number; True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs from the command line (``-S tags.sage.epochs=5``); values are
    YAML, as in ``dvc exp run -S``."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParamsError(f"-S {pair!r}: expected KEY=VALUE, e.g. tags.sage.epochs=5")
        out[key.strip()] = yaml.safe_load(value)
    return out


def chosen_values(top: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The flow's section arguments for params.yaml with ``overrides``, validated by the
    schema first so that a bad key or value is reported naming it."""
    from flows.workspace import resolve_params

    return getattr(resolve_params(overrides), top).model_dump()


def run_cli(prepare: Callable[[], Callable[[], object]]) -> None:
    """A flow's command line: ``prepare()`` parses and validates the arguments and returns
    the call that runs the flow. An unreachable tracking server or bad parameters end,
    before any server starts, with one line naming the URI or key. Without
    PREFECT_API_URL, the Prefect server of ``make ui`` is used when it runs (the run then
    shows in its UI, and no temporary server has to start: ~5 s saved); otherwise a
    temporary one that outlives Ctrl-C long enough to hear that the runs ended
    (flows/ui.py:start_temporary_prefect_server). Telemetry is switched off first: the temporary
    server is a subprocess that takes this process's environment, and a flow started as
    ``python -m flows.X`` outside make has no quiet.env."""
    import httpx
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ui import running_prefect_api, start_temporary_prefect_server
    from tasks.common.interrupts import keep_interrupts
    from tasks.common.tracking import TrackingUnavailable, check_tracking_server

    keep_interrupts()
    quiet_environment()
    api = None
    try:
        check_tracking_server()
        run = prepare()
        api = PREFECT_API_URL.value() or running_prefect_api()
        if api and not PREFECT_API_URL.value():
            print(f"using the Prefect server at {api} (make ui)")
        with temporary_settings({PREFECT_API_URL: api or start_temporary_prefect_server()}):
            run()
    except (ParamsError, TrackingUnavailable) as err:
        sys.exit(f"error: {err}")
    except KeyboardInterrupt:
        # "a stage stopped by": a SIGINT to this process alone stops no stage (docs/faults.md)
        print("interrupted: a stage stopped by the interrupt leaves no output; stages that finished are committed "
              "by DVC: run the flow again to finish the rest", file=sys.stderr)
        sys.exit(130)
    except httpx.TransportError as err:  # the server went away mid-run (a temporary one cannot)
        sys.exit(f"error: lost the Prefect server at {api or 'its temporary address'} ({type(err).__name__}: "
                 f"{err}); stages that finished are committed by DVC: run the flow again to finish the rest")


def add_set_option(parser) -> None:
    parser.add_argument("-S", "--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                        help="override any parameter of params.yaml for this run, e.g. -S tags.sage.epochs=5 "
                             "(a run with overrides is a DVC experiment: the workspace is not written)")


def module_flow(fn: Callable, name: str) -> Flow:
    """``fn`` as the Prefect flow ``name``, found by Prefect at ``<its file>:<its name>``
    (a deployment's entrypoint; its module's ``__getattr__`` builds it). Built inside a
    factory, ``fn``'s qualified name would be ``build_x.<locals>.x``, which Prefect cannot
    look up. Its module must not postpone annotations: the form classes are the factory's
    locals, which a string annotation could not name."""
    from prefect import flow

    fn.__qualname__ = fn.__name__
    return flow(name=name, log_prints=True)(fn)


def entrypoint_getattr(module: str, name: str, build: Callable[[FlowForms], Flow]) -> Callable[[str], Flow]:
    """A module ``__getattr__`` (PEP 562) that makes ``<module file>:<name>``, a
    deployment's entrypoint, the flow ``build`` makes from params.yaml as it is when
    Prefect looks it up; importing the module reads nothing."""
    def __getattr__(attr: str) -> Flow:
        if attr == name:
            return build(FlowForms.read())
        raise AttributeError(f"module {module!r} has no attribute {attr!r}")

    return __getattr__
