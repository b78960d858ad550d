// expect: open_store opens stores with kvforge::posix_io
// A composition list names no I/O policy: open_store's stores reach the file system through posix_io.
#include <kvforge/kvforge.hpp>

#include <string>

int main() {
    using list = kvforge::composition_list<kvforge::policies<kvforge::file_log, kvforge::posix_io>>;
    auto db = kvforge::open_store<std::string, std::string, list>("file_log:data");
    return db.is_open() ? 0 : 1;
}
