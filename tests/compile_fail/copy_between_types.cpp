// expect: copy() needs two stores of the same key and value types
// copy() moves encoded records as they are, so both stores must encode them alike.
#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <string>

int main() {
    kvforge::store<std::string, std::string> strings;
    kvforge::store<std::uint64_t, std::string> numbers;
    return static_cast<int>(kvforge::copy(strings, numbers));
}
