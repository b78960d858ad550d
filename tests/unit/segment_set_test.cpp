// segment_set::find: the segment with an id, or none, for sets of every small size and
// ids with gaps (compaction leaves them), asked in every place around each id.

#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <set>

#include <kvforge/kvforge.hpp>

using segment_type = kvforge::detail::segment<kvforge::posix_io>;

TEST_CASE("segment_set::find returns the segment with the id asked for, or none", "[unit][segments]") {
    for (std::uint32_t count = 0; count <= 9; ++count) {
        kvforge::detail::segment_set<kvforge::posix_io> segments;
        std::set<std::uint32_t> ids;
        // Added out of order, with gaps of one and two between ids.
        for (std::uint32_t n = count; n-- > 0;) {
            auto added = std::make_shared<segment_type>();
            added->id = 3 + n * 2 + n / 3;
            ids.insert(added->id);
            segments.add(added);
        }
        for (std::uint32_t id = 0; id < 40; ++id) {
            INFO("segments " << count << ", id " << id);
            const segment_type* found = segments.find(id);
            if (ids.count(id) != 0) {
                REQUIRE(found != nullptr);
                CHECK(found->id == id);
            } else {
                CHECK(found == nullptr);
            }
        }
    }
}
