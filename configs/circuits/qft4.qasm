// 4-qubit quantum Fourier transform of the basis state |x = 5> (q[0] and q[2] set;
// q[0] is the least significant bit), OpenQASM 3. Textbook QFT (Nielsen & Chuang §5.1)
// in qiskit's synth_qft_full gate order: H and controlled phases cp(pi / 2^(j-k)), then
// the qubit-reversal swaps; it equals qiskit's QFTGate(4). Hand-written for qenv.
// No measurement: qenv adds measure_all when it loads the file.
OPENQASM 3.0;
include "stdgates.inc";
qubit[4] q;
// input |0101>
x q[0];
x q[2];
// QFT
h q[3];
cp(pi / 2) q[3], q[2];
cp(pi / 4) q[3], q[1];
cp(pi / 8) q[3], q[0];
h q[2];
cp(pi / 2) q[2], q[1];
cp(pi / 4) q[2], q[0];
h q[1];
cp(pi / 2) q[1], q[0];
h q[0];
swap q[0], q[3];
swap q[1], q[2];
