// GHZ state on 3 qubits, OpenQASM 2: (|000> + |111>)/sqrt(2), then every qubit measured.
// Ideal outcome: "000" or "111", each with probability 1/2. Hand-written for qenv.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[3];
h q[0];
cx q[0], q[1];
cx q[1], q[2];
measure q -> c;
