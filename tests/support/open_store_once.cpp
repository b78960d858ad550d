// The one instantiation of open_store's work for <std::string, std::string> that the
// test sources share (open_store_once.hpp).

#include "open_store_once.hpp"

template kvforge::any_store<std::string, std::string>
kvforge::detail::open_any_store<std::string, std::string, kvforge::default_compositions>(
    std::string_view, const kvforge::options&, const kvforge::detail::codec_choice&, std::error_code&);
