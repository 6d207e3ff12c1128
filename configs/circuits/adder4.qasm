// 4-bit ripple-carry adder of Cuccaro, Draper, Kutin & Moulton 2004
// (arXiv:quant-ph/0410184), OpenQASM 2, after the adder example of the OpenQASM 2 paper
// (Cross et al. 2017, arXiv:1707.03429). Computes b <- a + b with carry out; here
// a = 0001 and b = 1111, so the ideal outcome is ans = 10000 (cout = 1, b = 0000) with
// probability 1. 10 qubits, 2 custom gates (majority, unmaj) built from CX and CCX.
OPENQASM 2.0;
include "qelib1.inc";
gate majority a, b, c {
  cx c, b;
  cx c, a;
  ccx a, b, c;
}
gate unmaj a, b, c {
  ccx a, b, c;
  cx c, a;
  cx a, b;
}
qreg cin[1];
qreg a[4];
qreg b[4];
qreg cout[1];
creg ans[5];
// inputs: a = 0001, b = 1111
x a[0];
x b;
// b <- a + b
majority cin[0], b[0], a[0];
majority a[0], b[1], a[1];
majority a[1], b[2], a[2];
majority a[2], b[3], a[3];
cx a[3], cout[0];
unmaj a[2], b[3], a[3];
unmaj a[1], b[2], a[2];
unmaj a[0], b[1], a[1];
unmaj cin[0], b[0], a[0];
measure b[0] -> ans[0];
measure b[1] -> ans[1];
measure b[2] -> ans[2];
measure b[3] -> ans[3];
measure cout[0] -> ans[4];
