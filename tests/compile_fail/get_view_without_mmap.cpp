// expect: get_view() needs kvforge::mmap_file
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::file_log> db("unused");
    (void)db.get_view("a");
}
