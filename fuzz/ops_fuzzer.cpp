// libFuzzer entry point: operation sequences over a persistent store, checked against
// std::map. The harness and the input's layout are in ops_harness.hpp; tools/fuzz.sh
// builds and runs it.

#include <cstddef>
#include <cstdint>

#include "ops_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvforge_fuzz::run_ops_input(data, size);
    return 0;
}
