// expect: wait_durable() needs kvforge::async_worker
#include <kvforge/kvforge.hpp>
int main() {
    kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each> db("unused");
    db.wait_durable(1);
}
