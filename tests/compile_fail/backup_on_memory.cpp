// expect: a memory store has no files to back up; copy it into a file_log store with kvforge::copy(src, dst)
#include <kvforge/kvforge.hpp>
void f(kvforge::store<std::string, std::string>& db) { db.backup("backups/users"); }
