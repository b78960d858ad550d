// expect: put() with a time to live needs kvforge::expiring<>
#include <kvforge/kvforge.hpp>
#include <chrono>
int main() {
    kvforge::store<std::string, std::string> db;
    db.put("k", "v", std::chrono::seconds(5));
}
