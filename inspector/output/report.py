"""A checkpoint as Markdown for a pull request or a CI step summary: what is in it, whether it
matches its spec, what it costs, and notes on the usual surprises that apply to it.

Nothing is counted here: rows come from `inspect_source`, tables and totals from
`inspector.vocab.tables`, the verdict from `inspector.checkpoint.check`, costs from `inspector.spec.costs`, and every
table goes through `inspector.output.rendering.markdown`. This module only chooses what to say.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from inspector.checkpoint.check import check
from inspector.checkpoint.inspection import Inspection, inspect_source
from inspector.formats.dtypes import BY_NAME
from inspector.output.answers import format_words, unmapped_note
from inspector.output.markup import code_span, markdown_quoted, markdown_text
from inspector.output.rendering import markdown
from inspector.spec.schema import Spec
from inspector.vocab import tables
from inspector.vocab.roles import Role
from inspector.vocab.rows import LANGUAGE_MODEL
from inspector.vocab.tables import buffers, name_pattern, role_table, total

PROBLEMS_SHOWN = 20

# Floats, integers and booleans; everything else (GGUF's Q4_1, Q8_0, Q4_K, ...) is a quantized
# block format.
PLAIN_DTYPES = set(BY_NAME)


def build_report(source: str, spec: Spec | None = None,
                 fmt: str = "markdown") -> tuple[str, dict | None]:
    """(the Markdown or the HTML page, the check verdict or None). The verdict decides the exit
    code."""
    inspection = inspect_source(source, spec)  # its own shape; the spec supplies heads at most
    verdict = check(spec, inspection.decoupled) if spec is not None else None
    text = render_report(source, inspection, spec, verdict)
    if fmt == "html":
        text = html_report(source, inspection, verdict, text)
    return text, verdict


def html_report(source: str, inspection: Inspection, verdict: dict | None, text: str) -> str:
    """The Markdown report as one page, with the architecture drawn after it (mismatching roles
    marked, as in `inspector diagram --spec`)."""
    from inspector.output import diagram
    from inspector.output.page import html_page, markdown_html

    d = diagram.of_inspection(source, inspection, verdict)
    picture = diagram.svg(d, f"{d.model.name}: {d.total:,} parameters")
    return html_page(f"inspector: {source}",
                     f"{markdown_html(text)}\n<h3>Architecture</h3>\n{picture}")


def render_report(source: str, inspection: Inspection, spec: Spec | None,
                  verdict: dict | None) -> str:
    rows = inspection.rows
    checkpoint = inspection.decoupled.checkpoint
    out = [f"## inspector: {code_span(source)}", ""]
    if verdict is not None:
        out += [_verdict_line(verdict), ""]
    shape = inspection.shape
    described = ", ".join(f"{k} {v:,}" for k, v in shape.as_dict().items()
                          if isinstance(v, int) and not isinstance(v, bool))
    dtypes: dict[str, int] = defaultdict(int)
    for t in checkpoint.tensors:
        dtypes[t.dtype] += 1
    buffer_rows = buffers(rows)
    out += [
        "- **format**: " + markdown_text(format_words(
            checkpoint.format, inspection.decoupled.layout.name, shape.family)),
        f"- **model**: {markdown_text(shape.family)}: {described} (from {shape.basis})",
        f"- **parameters**: {total(rows):,}",
        *_active_line(inspection),
        (f"- **stored tensors**: {len(checkpoint.tensors):,}, {checkpoint.nbytes:,} bytes"
         f" ({', '.join(f'{markdown_text(k)} x{v}' for k, v in dtypes.items())})"),
        ("- **buffers**: " + (f"{len(buffer_rows)} tensors, "
                              f"{sum(b['numel'] for b in buffer_rows):,} values (not parameters)"
                              if buffer_rows else "none")),
        "- **tied weights**: " + ("unembedding is the embedding's storage (counted once)"
                                  if inspection.decoupled.tied else "none"),
        "",
        "### Parameters by role",
        "",
        markdown(_role_rows(rows, verdict)),
        "",
    ]
    if verdict is not None and verdict["problems"]:
        out += _problems(verdict["problems"])
    if buffer_rows:
        out += ["### Buffers (stored, not parameters)", "", markdown(buffer_groups(inspection)),
                ""]
    known = spec or inspection.config_spec
    if known is not None:
        from inspector.spec.costs import cost_rows

        basis = f"spec {known.name}" if spec is not None else inspection.shape.basis
        out += [f"### Costs (from the {basis})", "",
                markdown(cost_rows(known), ["cost", "value", "unit", "approx", "how"]), ""]
    found = notes(inspection, spec)
    if found:
        out += ["### Notes", ""] + [f"- {n}" for n in found] + [""]
    return "\n".join(out)


def _active_line(inspection: Inspection) -> list[str]:
    """A mixture of experts' active parameters (a dense model's are all of them)."""
    spec = inspection.spec
    if spec is None or not spec.n_experts:
        return []
    found = tables.active_parameters(inspection.rows, spec)
    if found["active_parameters"] is None:
        return []
    line = (f"- **active parameters**: {found['active_parameters']:,} a token"
            f" ({spec.experts_per_token} of {spec.n_experts} routed experts in each MoE layer;"
            f" {found['active_parameters_without_embeddings']:,} without the embedding and"
            " unembedding)")
    return [line]


def _verdict_line(verdict: dict) -> str:
    t = verdict["total"]
    unchecked = ", ".join(f"{c['component']} {c['parameters']:,}"
                          for c in verdict.get("unchecked", ()))
    if verdict["ok"]:
        return (f"**Verdict: match.** Every role matches spec {code_span(verdict['spec'])}"
                f" ({t['actual']:,} parameters)"
                + (f"; not checked, a spec describing the language model: {unchecked}."
                   if unchecked else "."))
    bad = [r["role"] for r in verdict["roles"] if not r["ok"]]
    said = f"roles {', '.join(bad)} differ" if bad else "the roles agree but"
    n = len(verdict["problems"])
    return (f"**Verdict: MISMATCH** against spec {code_span(verdict['spec'])}: {said};"
            f" {n} problem{'s' if n != 1 else ''}; total expected {t['expected']:,},"
            f" found {t['actual']:,}.")


def _role_rows(rows, verdict: dict | None) -> list[dict]:
    """The role table, with the spec's expected count and the verdict per role beside it."""
    table = role_table(rows)
    if verdict is None:
        return table
    checked = {r["role"]: r for r in verdict["roles"]}
    out = []
    for entry in table:
        if entry.get("component", LANGUAGE_MODEL) != LANGUAGE_MODEL:  # a vision tower's: a spec
            out.append({**entry, "expected": None, "ok": None})  # describes no such thing
            continue
        r = checked.pop(entry["role"], None)
        out.append({**entry, "expected": r["expected"] if r else 0, "ok": r["ok"] if r else False})
    for role, r in checked.items():  # in the spec, absent from the checkpoint
        out.append({"role": role, "weights": 0, "biases": 0, "parameters": 0,
                    "tied_to": r["tied_to"], "expected": r["expected"], "ok": r["ok"]})
    return out


def _problems(problems: list[str]) -> list[str]:
    """A check's problems, one bullet each; one that quotes a name holding markup is shown whole
    as a code span."""
    problems = list(map(markdown_text, problems))
    lines = [f"- {p}" for p in problems[:PROBLEMS_SHOWN]]
    if len(problems) > PROBLEMS_SHOWN:
        rest = "\n".join(f"- {p}" for p in problems[PROBLEMS_SHOWN:])
        lines.append(_collapsed(f"{len(problems) - PROBLEMS_SHOWN} more problems", rest))
    return ["### Problems", ""] + lines + [""]


def _collapsed(summary: str, body: str) -> str:
    """A block GitHub shows folded (blank lines around the body so Markdown inside renders)."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"


def notes(inspection: Inspection, spec: Spec | None = None) -> list[str]:
    """The usual surprises, only those that apply to this checkpoint, with its own numbers."""
    found = []
    for note in (_buffer_note, _tied_note, _fused_note, _embedding_note, _grouped_query_note,
                 _quantized_note, _unmapped_note):
        text = note(inspection)
        if text:
            found.append(text)
    if spec is not None:
        text = _published_note(inspection, spec)
        if text:
            found.append(text)
    return found


def _buffer_what(inspection: Inspection, name: str) -> str:
    """What the layout rule that recognised this buffer says it holds."""
    found = inspection.decoupled.layout.match(name)
    return found[0].what if found else ""


def buffer_groups(inspection: Inspection) -> list[dict]:
    """Buffers grouped by name pattern (h.N.attn.bias): one row per kind, for tables and notes."""
    out = []
    for pattern, members in tables.buffer_groups(inspection.rows).items():
        sizes = {m.numel for m in members}
        out.append({
            "buffer": pattern,
            "what": _buffer_what(inspection, members[0].tensor),
            "tensors": len(members),
            "values_each": members[0].numel if len(sizes) == 1 else None,
            "values": sum(m.numel for m in members),
            "dtype": ", ".join(sorted({m.dtype for m in members})),
        })
    return out


def _buffer_note(inspection: Inspection) -> str | None:
    groups = buffer_groups(inspection)
    if not groups:
        return None
    stored = sum(t.numel for t in inspection.decoupled.checkpoint.tensors)
    said = []
    for g in groups:
        what = f"{g['what']} buffer" if g["what"] else "buffer"
        name = markdown_text(g["buffer"])
        if g["tensors"] == 1:
            said.append(f"1 {what} {name} of {g['values']:,} values")
        elif g["values_each"] is not None:
            said.append(f"{g['tensors']} {what}s {name} of {g['values_each']:,} values"
                        " each")
        else:
            said.append(f"{g['tensors']} {what}s {name} of {g['values']:,} values in all")
    n = sum(g["tensors"] for g in groups)
    verb = "is not a parameter" if n == 1 else "are not parameters"
    return (f"{stored:,} stored values vs {total(inspection.rows):,} parameters:"
            f" {'; '.join(said)} {verb} (state the model keeps, never trained).")


def _tied_note(inspection: Inspection) -> str | None:
    if not inspection.decoupled.tied:
        return None
    once, twice = total(inspection.rows), total(inspection.rows, count_tied=True)
    return (f"{twice:,} if the tied unembedding were counted twice: it is the embedding's storage"
            f" ({twice - once:,} values), counted once here ({once:,}); `inspector count"
            " --count-tied` counts it again, as some papers' tables do.")


def _fused_note(inspection: Inspection) -> str | None:
    """A stored tensor shown as several roles (GPT-2's c_attn holds query, key and value)."""
    parts: dict[str, list] = defaultdict(list)
    for r in inspection.rows:
        if r.role is not None and r.tied_to is None and r.kind == "weight":
            parts[r.tensor].append(r)
    fused = {name: rs for name, rs in parts.items() if len({r.role for r in rs}) > 1}
    if not fused:
        return None
    name, rs = next(iter(fused.items()))
    stored = next(t for t in inspection.decoupled.checkpoint.tensors if t.name == name)
    patterns = {name_pattern(n) for n in fused}
    many = f" ({len(fused)} tensors)" if len(fused) > 1 else ""
    rule = inspection.decoupled.layout.match(name)[0]
    orientation = (" It is stored (in, out), as GPT-2's Conv1D keeps it; rows show PyTorch's"
                   " (out, in)." if rule.transposed else "")
    return (f"{markdown_quoted(name_pattern(name))}{many} is one stored"
            f" [{', '.join(map(str, stored.shape))}]"
            f" tensor shown as {len(rs)} rows ({', '.join(r.role.value for r in rs)}) of"
            f" [{', '.join(map(str, rs[0].shape))}] each: roles count its parts, `--by tensor`"
            f" its storage.{orientation}" + (f" Also fused: {len(patterns) - 1} other name"
                                              " patterns." if len(patterns) > 1 else ""))


def _language_model(inspection: Inspection) -> list:
    """The rows the notes on a language model read (a multimodal model's vision tower has a
    query and an embedding of its own)."""
    return [r for r in inspection.rows if r.in_language_model]


def _embedding_note(inspection: Inspection) -> str | None:
    roles = {r["role"]: r["parameters"] for r in role_table(_language_model(inspection))
             if not r["tied_to"]}
    lookup = {k: roles[k] for k in (Role.EMBEDDING.value, Role.POSITION.value,
                                    Role.TOKEN_TYPE.value) if k in roles}
    parameters = total(inspection.rows)
    share = sum(lookup.values()) / parameters if parameters else 0
    if share < 0.10:
        return None
    parts = " + ".join(f"{k} {v:,}" for k, v in lookup.items())
    return (f"Embedding tables hold {share:.1%} of the parameters ({parts}); without them"
            f" (Kaplan et al. 2020's non-embedding count, the N of scaling laws) the model has"
            f" {parameters - sum(lookup.values()):,}.")


def _grouped_query_note(inspection: Inspection) -> str | None:
    n_heads, n_kv = inspection.shape.n_heads, inspection.shape.n_kv_heads
    if not n_heads or not n_kv or n_kv == n_heads:
        return None
    roles = {r["role"]: r["parameters"] for r in role_table(_language_model(inspection))}
    share = Fraction(n_kv, n_heads)
    return (f"Grouped-query attention: {n_kv} key-value heads serve {n_heads} query heads, so key"
            f" ({roles.get('key', 0):,}) and value ({roles.get('value', 0):,}) are each {share}"
            f" the size of query ({roles.get('query', 0):,}), and the KV cache is {share} of what"
            f" {n_heads} key-value heads would cache.")


def _quantized_note(inspection: Inspection) -> str | None:
    tensors = inspection.decoupled.checkpoint.tensors
    quantized = [t for t in tensors if t.dtype not in PLAIN_DTYPES]
    if not quantized:
        return None
    values, nbytes = sum(t.numel for t in tensors), sum(t.nbytes for t in tensors)
    kinds: dict[str, int] = defaultdict(int)
    for t in quantized:
        kinds[t.dtype] += 1
    listed = ", ".join(f"{k} x{v}" for k, v in kinds.items())
    return (f"Quantized: {nbytes:,} bytes hold {values:,} values, {8 * nbytes / values:.2f} bits"
            f" a value on average ({listed}; block formats add scales to their 4 or 8 bits);"
            f" the parameter count is the same as unquantized, the bytes are not"
            f" (fp16 would take {2 * values:,}).")


def _unmapped_note(inspection: Inspection) -> str | None:
    said = unmapped_note(inspection.decoupled.layout.name, inspection.rows, markdown_quoted)
    return f"{said}." if said else None


def _published_note(inspection: Inspection, spec: Spec) -> str | None:
    said = spec.published.get("n_params")
    if not said:
        return None
    counted = total(inspection.rows)
    tied_twice = total(inspection.rows, count_tied=True)
    if counted == said:
        return None
    extra = (f"; {tied_twice:,} with the tied unembedding counted twice"
             if tied_twice != counted else "")
    return (f"The source ({markdown_text(spec.source)}) publishes {said:,} parameters; this"
            f" checkpoint has {counted:,} ({(counted - said) / said:+.2%}{extra}): papers round, and often"
            " count only some roles.")
