"""Tests of qenv.tasks.qasm: OpenQASM 2/3 files and strings, round trips, error positions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qiskit import qasm2, qasm3
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import Operator, Statevector

from qenv.tasks.circuits import Circuit, ghz, qaoa_maxcut, qaoa_tsp, qft, vqe_hea
from qenv.tasks.qasm import QasmError, load_qasm, qasm_version

CIRCUITS = Path(__file__).resolve().parents[1] / "configs" / "circuits"

QASM2_HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
QASM3_HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def probabilities(c: Circuit) -> dict[str, float]:
    """Ideal outcome distribution over all qubits (big-endian bitstrings)."""
    sv = Statevector(c.qc.remove_final_measurements(inplace=False))
    return {k: v for k, v in sv.probabilities_dict().items() if v > 1e-12}


# --------------------------------------------------------------------------- example files


def test_ghz3_file_qasm2() -> None:
    path = CIRCUITS / "ghz3.qasm"
    c = load_qasm(path)
    assert c.name == str(path) and c.family == "qasm"
    assert qasm_version(path.read_text()) == 2
    assert probabilities(c) == pytest.approx({"000": 0.5, "111": 0.5})
    assert c.qc.count_ops()["measure"] == 3
    assert [r.name for r in c.qc.cregs] == ["c"]  # measured as written: no measure_all
    assert c.key == load_qasm(str(path)).key  # str paths work too


def test_qft4_file_qasm3_equals_qiskit_qft_and_generated_circuit() -> None:
    c = load_qasm(CIRCUITS / "qft4.qasm")
    sv = Statevector(c.qc.remove_final_measurements(inplace=False))
    expected = Statevector.from_int(5, 16).evolve(QFTGate(4))
    np.testing.assert_allclose(sv.data, expected.data, atol=1e-12)
    assert c.features()["measured"] == 4  # measure_all added on loading
    assert [r.name for r in c.qc.cregs] == ["meas"]
    assert c.key == qft(4, rng=rng(), x=5).key  # same content as the generated circuit


def test_adder4_file_adds() -> None:
    c = load_qasm(CIRCUITS / "adder4.qasm")
    assert c.num_qubits == 10 and c.features()["count_multi"] == 8  # the custom gates
    # Qubits: cin = 0, a = 1..4, b = 5..8, cout = 9; bitstrings are big-endian.
    ((bits, p),) = probabilities(c).items()
    assert p == pytest.approx(1.0)
    assert bits[::-1] == "0" + "1000" + "0000" + "1"  # a = 0001 kept, b = 0000, cout = 1


# --------------------------------------------------------------------------- round trips


def generated() -> list[Circuit]:
    return [
        qaoa_maxcut(5, 2, rng=rng(1)),
        qaoa_tsp(3, 1, rng=rng(2)),
        vqe_hea(4, 2, rng=rng(3), entangler="cz"),
        ghz(4),
        qft(4, rng=rng(4)),
    ]


@pytest.mark.parametrize("dumps", [qasm2.dumps, qasm3.dumps], ids=["qasm2", "qasm3"])
def test_round_trip(dumps: object) -> None:
    for c in generated():
        text = dumps(c.qc)  # type: ignore[operator]
        back = load_qasm(text, name=c.name)
        assert back.name == c.name and back.family == "qasm"
        assert back.key == c.key
        assert dict(back.qc.count_ops()) == dict(c.qc.count_ops())
        a = Operator(c.qc.remove_final_measurements(inplace=False))
        b = Operator(back.qc.remove_final_measurements(inplace=False))
        assert a.equiv(b)


def test_text_without_name_is_named_by_key() -> None:
    c = load_qasm(QASM2_HEAD + "qreg q[2];\nh q[0];\ncx q[0], q[1];\n")
    assert c.name == f"qasm:{c.key[:12]}"
    assert c.qc.count_ops()["measure"] == 2


def test_version_detection() -> None:
    assert qasm_version("// a comment\n/* block\n comment */\n  OPENQASM 2.0;\nqreg q[1];") == 2
    assert qasm_version("OPENQASM 3;\nqubit q;") == 3
    assert qasm_version('include "stdgates.inc";\nqubit q;\nh q;') == 3  # no header: 3
    c = load_qasm('include "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n')
    assert probabilities(c) == pytest.approx({"00": 0.5, "11": 0.5})
    with pytest.raises(QasmError, match=r"unsupported OpenQASM version '4\.0'") as info:
        load_qasm("// header on line 2\nOPENQASM 4.0;\nqubit q;")
    assert (info.value.line, info.value.column) == (2, 10)


def test_qasm2_include_from_the_file_directory(tmp_path: Path) -> None:
    (tmp_path / "mine.inc").write_text("gate bell a, b { h a; cx a, b; }\n")
    main = tmp_path / "main.qasm"
    main.write_text(QASM2_HEAD + 'include "mine.inc";\nqreg q[2];\nbell q[0], q[1];\n')
    c = load_qasm(main)
    assert probabilities(c) == pytest.approx({"00": 0.5, "11": 0.5})
    with pytest.raises(QasmError, match=r"mine\.inc"):
        load_qasm(main.read_text())  # as text there is no file directory to search


# --------------------------------------------------------------------------- parameters


def test_unbound_parameters_point_at_the_input_declaration() -> None:
    text = QASM3_HEAD + "qubit[2] q;\n  input float theta;\nrx(theta) q[0];\ncx q[0], q[1];\n"
    with pytest.raises(QasmError, match=r"unbound parameter\(s\) theta") as info:
        load_qasm(text, name="prog.qasm")
    err = info.value
    assert (err.source, err.line, err.column) == ("prog.qasm", 4, 3)
    assert str(err).startswith("prog.qasm:4:3: ")
    c = load_qasm(text, parameters={"theta": np.pi})
    assert probabilities(c) == pytest.approx({"11": 1.0})
    with pytest.raises(QasmError, match="unknown name"):
        load_qasm(text, parameters={"phi": 0.1})


# --------------------------------------------------------------------------- errors


def error(text: str, **kw: object) -> QasmError:
    with pytest.raises(QasmError) as info:
        load_qasm(text, **kw)  # type: ignore[arg-type]
    return info.value


def test_qasm2_syntax_error_line_and_column(tmp_path: Path) -> None:
    text = QASM2_HEAD + "qreg q[2];\nh q[0];\ncx q[0], q[1]; @ q[0];\n"
    err = error(text)
    assert (err.line, err.column) == (5, 16)  # the '@'
    assert str(err).startswith("<string>:5:16: ") and "'@'" in err.reason
    path = tmp_path / "bad2.qasm"
    path.write_text(text)
    with pytest.raises(QasmError) as info:
        load_qasm(path)
    assert str(info.value).startswith(f"{path}:5:16: ")
    assert info.value.source == str(path)
    err = error(QASM2_HEAD + "qreg q[2];\nh q[0];\ncx q[0], q[3];\n")
    assert (err.line, err.column) == (5, 12) and "out-of-range" in err.reason


def test_qasm3_syntax_error_line_and_column(tmp_path: Path) -> None:
    text = QASM3_HEAD + "qubit[2] q;\nh q[0];\ncx q[0] q[1];\n"  # missing comma
    err = error(text)
    assert (err.line, err.column) == (5, 9)  # the second 'q'
    assert "unexpected 'q'" in err.reason
    path = tmp_path / "bad3.qasm"
    path.write_text(text)
    with pytest.raises(QasmError) as info:
        load_qasm(path)
    assert str(info.value).startswith(f"{path}:5:9: ")
    err = error(QASM3_HEAD + "qubit[2] q;\nh q[0]\n")  # missing ';' before end of file
    assert err.line == 5 and "end of file" in err.reason


def test_qasm3_lexer_and_conversion_errors(capsys: pytest.CaptureFixture[str]) -> None:
    err = error(QASM3_HEAD + "qubit[2] q;\nh q[0]; ` q[1];\n")
    assert (err.line, err.column) == (4, 9) and "token recognition error" in err.reason
    assert capsys.readouterr().err == ""  # ANTLR's console print is swallowed
    err = error(QASM3_HEAD + "qubit[2] q;\n\nfoo q[0];\n")
    assert (err.line, err.column) == (5, 1) and "foo" in err.reason
    err = error(QASM3_HEAD + "qubit[2] q;\nh q[2];\n", name="oob")
    assert err.line is None and str(err).startswith("oob: ") and "IndexError" in err.reason


def test_unreadable_file_and_bad_argument(tmp_path: Path) -> None:
    missing = tmp_path / "missing.qasm"
    with pytest.raises(QasmError, match="cannot read OpenQASM file") as info:
        load_qasm(missing)
    assert str(info.value).startswith(str(missing))
    with pytest.raises(QasmError, match="program text or a file path"):
        load_qasm(42)  # type: ignore[arg-type]
    assert issubclass(QasmError, ValueError)
