// Counts heap allocations made through operator new in the test binary, so a test can check that a
// warmed-up call makes none.
#pragma once

namespace kerasrt::testing {

long heap_allocations();  // allocations so far, on every thread

}  // namespace kerasrt::testing
