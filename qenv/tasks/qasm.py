"""OpenQASM 2 and 3 ingestion: a program (file or string) becomes a :class:`Circuit`.

Version: read from the ``OPENQASM M[.m];`` header, the first statement after any
comments. OpenQASM 2 requires the header (Cross, Bishop, Smolin & Gambetta 2017,
arXiv:1707.03429); OpenQASM 3 makes it optional (Cross et al. 2022, ACM TQC 3, 12), so a
program without one is read as OpenQASM 3.

* OpenQASM 2 goes through ``qiskit.qasm2.loads`` with
  ``custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS``, so the ``qelib1.inc``
  gates become qiskit's standard gates (``rzz``, ``cu1``, ``rxx``, …). ``include``
  statements are searched for in the file's directory (then ``include_path``).
* OpenQASM 3 goes through ``qiskit.qasm3.loads`` (backed by ``qiskit-qasm3-import``):
  ``stdgates.inc`` is the only include it supports.

Parameters: OpenQASM 3 ``input float theta;`` declarations become free qiskit
parameters. ``parameters={"theta": 0.3}`` binds them by name; any left unbound is a
:class:`QasmError` pointing at its ``input`` declaration.

Measurements: a program with no ``measure`` at the top level gets ``measure_all()`` (a
barrier, then every qubit into a new ``meas`` register), so every task yields counts;
programs that measure are kept as written.

Errors: every failure is a :class:`QasmError` (a ``ValueError``) with ``.source`` (the
file path, or ``name`` / ``"<string>"`` for text), ``.line`` and ``.column`` (1-based;
``None`` where the parser gives no position) and the message
``"{source}:{line}:{column}: {reason}"``. Positions come from the parsers' messages:
qiskit's OpenQASM 2 parser reports ``<input>:line,column`` (0-based column; for a
malformed statement it points at the statement's start), the OpenQASM 3 converter
``line,column``, the ANTLR lexer ``L{line}:C{column}``, and an ANTLR parse error carries
the offending token (line, column) on the exception it wraps.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.exceptions import QiskitError

from qenv.tasks.circuits import Circuit, circuit_key

__all__ = ["QasmError", "load_qasm", "qasm_version"]

# Comments and blank space before the header: //…\n and /* … */.
_LEADING: Final = r"(?:\s+|//[^\n]*(?:\n|\Z)|/\*.*?\*/)*"
_HEADER: Final = re.compile(_LEADING + r"OPENQASM\s+(?P<version>[^\s;]+)\s*;", re.DOTALL)
# "<input>:5,3: message" (qasm2); "5,3: message" (qasm3 converter); "L5:C3: message" (lexer).
_QASM2_POS: Final = re.compile(r"\A<input>:(\d+),(\d+):\s*(.*)\Z", re.DOTALL)
_QASM3_POS: Final = re.compile(r"\A(\d+),(\d+):\s*(.*)\Z", re.DOTALL)
_LEXER_POS: Final = re.compile(r"\AL(\d+):C(\d+):\s*(.*)\Z", re.DOTALL)


class QasmError(ValueError):
    """An OpenQASM program that cannot be read, parsed, converted or bound.

    Attributes:
        source: file path, or the ``name`` given for a string (default ``"<string>"``).
        line, column: 1-based position of the problem, or ``None`` if unknown.
        reason: the message without the position prefix.
    """

    def __init__(
        self, source: str, reason: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        self.column = column
        where = source
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {reason}")


def qasm_version(text: str, source: str = "<string>") -> int:
    """Major OpenQASM version (2 or 3) from the header; 3 when there is no header."""
    match = _HEADER.match(text)
    if match is None:
        return 3
    version = match.group("version")
    major = version.split(".", 1)[0]
    if major not in ("2", "3") or not re.fullmatch(r"\d+(\.\d+)?", version):
        line = text.count("\n", 0, match.start("version")) + 1
        column = match.start("version") - (text.rfind("\n", 0, match.start("version")) + 1) + 1
        raise QasmError(
            source, f"unsupported OpenQASM version {version!r} (expected 2.x or 3.x)", line, column
        )
    return int(major)


def _read(text_or_path: str | os.PathLike[str]) -> tuple[str, Path | None]:
    """(program text, file path or None). A str with no newline and no ';' is a path."""
    if isinstance(text_or_path, str) and ("\n" in text_or_path or ";" in text_or_path):
        return text_or_path, None
    if not isinstance(text_or_path, str | os.PathLike):
        raise QasmError(
            "<argument>",
            f"text_or_path must be program text or a file path, got {type(text_or_path).__name__}",
        )
    path = Path(os.fspath(text_or_path))
    try:
        return path.read_text(encoding="utf-8"), path
    except (OSError, UnicodeDecodeError) as err:
        raise QasmError(os.fspath(text_or_path), f"cannot read OpenQASM file: {err}") from err


def _located(source: str, message: str, pattern: re.Pattern[str]) -> QasmError:
    match = pattern.match(message)
    if match is None:
        return QasmError(source, message)
    return QasmError(source, match.group(3), int(match.group(1)), int(match.group(2)) + 1)


def _parse_qasm2(text: str, source: str, include_path: Sequence[Path]) -> QuantumCircuit:
    try:
        return qasm2.loads(
            text,
            include_path=tuple(include_path),
            custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
        )
    except qasm2.QASM2ParseError as err:
        raise _located(source, str(err.message), _QASM2_POS) from err
    except QiskitError as err:
        raise QasmError(source, f"cannot convert the OpenQASM 2 program: {err}") from err


def _antlr_error(source: str, err: BaseException) -> QasmError:
    """Position of an ANTLR parse error from the RecognitionException it wraps."""
    from antlr4.error.Errors import RecognitionException

    seen: BaseException | None = err
    while seen is not None:
        for candidate in (seen, *getattr(seen, "args", ())):
            token = getattr(candidate, "offendingToken", None)
            if isinstance(candidate, RecognitionException) and token is not None:
                text = "end of file" if token.text == "<EOF>" else repr(token.text)
                reason = f"syntax error: unexpected {text}"
                with contextlib.suppress(Exception):  # expected-token listing is best effort
                    parser = candidate.recognizer
                    expected = candidate.getExpectedTokens().toString(
                        parser.literalNames, parser.symbolicNames
                    )
                    reason += f", expected {expected}"
                return QasmError(source, reason, int(token.line), int(token.column) + 1)
        seen = seen.__cause__
    return QasmError(source, f"syntax error ({type(err).__name__})")


def _parse_qasm3(text: str, source: str) -> QuantumCircuit:
    from openqasm3.parser import QASM3ParsingError

    try:
        # The ANTLR lexer also prints its errors to stderr; the exception carries them.
        with contextlib.redirect_stderr(io.StringIO()):
            return qasm3.loads(text)
    except qasm3.QASM3ImporterError as err:
        raise _located(source, str(err.message), _QASM3_POS) from err
    except QASM3ParsingError as err:
        if str(err):
            raise _located(source, str(err), _LEXER_POS) from err
        raise _antlr_error(source, err) from err
    except (IndexError, KeyError, TypeError, ValueError, QiskitError) as err:
        # The converter lets some errors of valid syntax through raw (e.g. IndexError for
        # an out-of-range qubit index), without a position.
        raise QasmError(
            source, f"cannot convert the OpenQASM 3 program: {type(err).__name__}: {err}"
        ) from err


def _declaration(text: str, parameter: str) -> tuple[int | None, int | None]:
    """Line and column (1-based) of ``input <type> <parameter>;``, if found."""
    pattern = rf"^[ \t]*input\b[^;\n]*?\b{re.escape(parameter)}[ \t]*;"
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        return None, None
    start = match.start() + len(match.group()) - len(match.group().lstrip())
    return text.count("\n", 0, start) + 1, start - (text.rfind("\n", 0, start) + 1) + 1


def _bind(
    qc: QuantumCircuit, text: str, source: str, parameters: Mapping[str, float]
) -> QuantumCircuit:
    by_name = {p.name: p for p in qc.parameters}
    unknown = sorted(set(parameters) - set(by_name))
    if unknown:
        have = ", ".join(sorted(by_name)) or "none"
        raise QasmError(
            source, f"parameters: unknown name(s) {', '.join(unknown)} (the program has {have})"
        )
    if parameters:
        try:
            values = {by_name[k]: float(v) for k, v in parameters.items()}
        except (TypeError, ValueError) as err:
            raise QasmError(source, f"parameters: values must be numbers ({err})") from err
        qc = qc.assign_parameters(values)
    if qc.num_parameters:
        first = qc.parameters[0].name
        line, column = _declaration(text, first)
        names = ", ".join(p.name for p in qc.parameters)
        raise QasmError(
            source,
            f"unbound parameter(s) {names}; bind them with parameters={{'{first}': ...}}",
            line,
            column,
        )
    return qc


def load_qasm(
    text_or_path: str | os.PathLike[str],
    *,
    name: str | None = None,
    parameters: Mapping[str, float] | None = None,
    include_path: Sequence[str | os.PathLike[str]] = (),
) -> Circuit:
    """Read an OpenQASM 2 or 3 program into a :class:`Circuit` of family ``"qasm"``.

    Args:
        text_or_path: program text, or a path (an ``os.PathLike``, or a ``str`` without a
            newline or ``;``).
        name: the circuit's name; default the file path as given, or ``qasm:<key[:12]>``
            for text. For text it also names the source in error messages.
        parameters: values for OpenQASM 3 ``input`` parameters, by name.
        include_path: extra directories for OpenQASM 2 ``include`` (after the file's own).

    Raises:
        QasmError: unreadable file, unsupported version, syntax or conversion error (with
            line and column where the parser gives them), unknown or unbound parameters.
    """
    text, path = _read(text_or_path)
    source = os.fspath(text_or_path) if path is not None else (name or "<string>")
    version = qasm_version(text, source)
    if version == 2:
        dirs = ([path.parent] if path is not None else []) + [Path(p) for p in include_path]
        qc = _parse_qasm2(text, source, dirs)
    else:
        qc = _parse_qasm3(text, source)
    try:
        qc = _bind(qc, text, source, parameters or {})
    except QiskitError as err:
        raise QasmError(source, f"cannot bind parameters: {err}") from err
    if "measure" not in qc.count_ops():
        qc.measure_all()
    if name is None:
        name = source if path is not None else f"qasm:{circuit_key(qc)[:12]}"
    qc.name = name
    return Circuit(name, "qasm", qc)
