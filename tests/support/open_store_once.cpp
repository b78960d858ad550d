// The one instantiation of open_store's work for <std::string, std::string> that the
// test sources share (open_store_once.hpp), and the opening of the stores that
// unit/any_store_elsewhere_test.cpp uses through any_store.hpp alone.

#include "open_store_once.hpp"
#include "opened_elsewhere.hpp"

// Compiled here unless the build links it from kvforge::compiled (cmake/tests.cmake).
#if !KVFORGE_TEST_OPEN_STORE_FROM_LIBRARY
template kvforge::any_store<std::string, std::string>
kvforge::detail::open_any_store<std::string, std::string, kvforge::default_compositions>(
    std::string_view, const kvforge::options&, const kvforge::detail::codec_choice&, std::error_code&);
#endif

kvforge::any_store<std::string, std::string> kvforge_test::open_elsewhere(std::string_view spec) {
    return kvforge::open_store<std::string, std::string>(spec);
}
