// Storing your own type: specialise kvforge::codec and use it as a key or a value.

#include <kvforge/kvforge.hpp>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>

struct user {
    std::string name;
    std::uint16_t level = 0;
};

/// Encodes a user as two big-endian bytes of level followed by the name.
template <>
struct kvforge::codec<user> {
    // Written into every file header, so a store cannot be opened with another encoding.
    static std::string name() { return "example.user.v1"; }

    static std::string_view encode(const user& u, std::string& scratch) {
        scratch.push_back(static_cast<char>(u.level >> 8));
        scratch.push_back(static_cast<char>(u.level & 0xff));
        scratch += u.name;
        return scratch;
    }

    static bool decode(std::string_view bytes, user& out) {
        if (bytes.size() < 2) return false;  // refuse bytes this codec never wrote
        out.level = static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                               static_cast<unsigned char>(bytes[1]));
        out.name.assign(bytes.substr(2));
        return true;
    }
};

int main() {
    kvforge::store<std::uint32_t, user, kvforge::sorted_index> users;
    users.put(2, user{"bob", 3});
    users.put(1, user{"alice", 7});
    users.for_each([](std::uint32_t id, const user& u) {
        std::cout << id << ": " << u.name << " (level " << u.level << ")\n";
    });
    std::cout << "user 1 is " << users.get(1)->name << '\n';
}
