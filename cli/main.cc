#include <cstdio>
int main() { std::puts("brandpulse"); return 0; }
