// A tour of kvforge: forge two stores from policies, write, read, batch, scan, stats.

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <iostream>
#include <string>

int main() {
    // A hash-indexed store for point lookups: the defaults (memory, hash_index, single_thread).
    kvforge::store<std::string, std::string> roles;
    roles.put("alice", "admin");
    roles.put("bob", "dev");
    std::cout << "alice is " << roles.get("alice").value_or("unknown") << '\n';
    std::cout << "carol known? " << std::boolalpha << roles.contains("carol") << '\n';

    // A batch applies all of its operations or none.
    kvforge::batch<std::string, std::string> change;
    change.put("carol", "ops");
    change.erase("bob");
    roles.write(change);
    std::cout << "after the batch: " << roles.size() << " users, bob known? " << roles.contains("bob") << '\n';

    // Errors come as exceptions, or as error codes when you pass a std::error_code.
    std::error_code ec;
    roles.put(std::string(kvforge::max_key_size + 1, 'x'), "too long", ec);
    std::cout << "oversized key: " << ec.message() << " (" << kvforge::last_error_message() << ")\n";

    // An ordered, thread-safe store with integer keys: they scan in numeric order.
    kvforge::store<std::int64_t, std::string, kvforge::sorted_index, kvforge::thread_safe> events;
    for (std::int64_t t : {1700000300, -5, 1700000100, 42, 1700000200}) events.put(t, "event@" + std::to_string(t));
    std::cout << "events from 0 up to 1700000250:\n";
    for (auto&& [time, what] : events.scan(0, 1700000250)) std::cout << "  " << time << " -> " << what << '\n';

    const kvforge::stats s = roles.stats();
    std::cout << "roles: " << s.live_keys << " keys, " << s.live_bytes << " live bytes, " << s.puts << " puts, "
              << s.gets << " gets\n";
}
