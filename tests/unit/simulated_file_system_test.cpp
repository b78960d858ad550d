// The simulated file system on its own: what survives a crash (synced data, synced
// directory entries, the three kinds of unsynced tail), rename and unlink, mappings
// that show later writes, flock, freezing and the trace.

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include <kvforge/io/simulated.hpp>

using kvforge::crash_tail;
using kvforge::simulated_call;
using kvforge::simulated_file_system;
using kvforge::simulated_io;

namespace {

/// Creates (or truncates) path and writes bytes into it; returns the open descriptor.
int write_new(simulated_io& io, const char* path, const std::string& bytes) {
    const int fd = io.open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(io.pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
    return fd;
}

int sync_directory(simulated_io& io, const char* path) {
    const int fd = io.open(path, O_RDONLY | O_DIRECTORY, 0);
    REQUIRE(fd >= 0);
    const int result = io.fsync(fd);
    io.close(fd);
    return result;
}

bool exists(simulated_file_system& fs, const char* path) {
    std::string ignored;
    return fs.contents(path, ignored);
}

std::string file_contents(simulated_file_system& fs, const char* path) {
    std::string bytes;
    REQUIRE(fs.contents(path, bytes));
    return bytes;
}

std::vector<std::string> listing(simulated_io& io, const char* path) {
    std::vector<std::string> names;
    REQUIRE(io.list_directory(path, names) == 0);
    return names;
}

}  // namespace

TEST_CASE("simulated fs: a crash keeps synced data and synced directory entries only", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    REQUIRE(io.mkdir("/d", 0755) == 0);
    REQUIRE(sync_directory(io, "/") == 0);

    const int synced = write_new(io, "/d/synced", "durable");
    REQUIRE(io.fdatasync(synced) == 0);
    REQUIRE(sync_directory(io, "/d") == 0);
    REQUIRE(io.pwrite(synced, "+more", 5, 7) == 5);  // appended after the sync

    const int unsynced_entry = write_new(io, "/d/no-entry", "data");
    REQUIRE(io.fdatasync(unsynced_entry) == 0);  // its data is synced, its name is not

    fs->crash(crash_tail::dropped);
    CHECK(file_contents(*fs, "/d/synced") == "durable");
    CHECK_FALSE(exists(*fs, "/d/no-entry"));
    CHECK(listing(io, "/d") == std::vector<std::string>{"synced"});

    // Every descriptor died with the crash.
    char byte = 0;
    CHECK(io.pread(synced, &byte, 1, 0) == -1);
    CHECK(errno == EBADF);
}

TEST_CASE("simulated fs: a directory that was never synced into its parent is lost", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    REQUIRE(io.mkdir("/d", 0755) == 0);
    const int fd = write_new(io, "/d/f", "x");
    REQUIRE(io.fsync(fd) == 0);
    REQUIRE(sync_directory(io, "/d") == 0);  // /d's entries, but not "/d" in "/"
    fs->crash();
    struct stat info {};
    CHECK(io.stat("/d", &info) == -1);
    CHECK(errno == ENOENT);
}

TEST_CASE("simulated fs: unsynced appends are dropped, torn or zero-filled", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int fd = write_new(io, "/f", "head");
    REQUIRE(io.fsync(fd) == 0);
    REQUIRE(sync_directory(io, "/") == 0);
    const std::string tail(1000, 't');
    REQUIRE(io.pwrite(fd, tail.data(), tail.size(), 4) == 1000);

    CHECK(file_contents(*fs->after_crash(crash_tail::dropped), "/f") == "head");
    CHECK(file_contents(*fs->after_crash(crash_tail::zero_filled), "/f") == "head" + std::string(1000, '\0'));

    // A torn tail is a prefix of what was appended, the same for the same seed, and
    // some seed tears it strictly inside.
    bool torn_inside = false;
    for (std::uint64_t seed = 0; seed < 16; ++seed) {
        const std::string torn = file_contents(*fs->after_crash(crash_tail::torn, seed), "/f");
        REQUIRE(torn.size() >= 4);
        REQUIRE(torn.size() <= 1004);
        CHECK(torn == ("head" + tail).substr(0, torn.size()));
        CHECK(file_contents(*fs->after_crash(crash_tail::torn, seed), "/f") == torn);
        torn_inside = torn_inside || (torn.size() > 4 && torn.size() < 1004);
    }
    CHECK(torn_inside);

    // after_crash leaves the file system itself as it was.
    CHECK(file_contents(*fs, "/f") == "head" + tail);
}

TEST_CASE("simulated fs: the crashed state is durable as a whole", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int fd = write_new(io, "/f", "abc");
    REQUIRE(sync_directory(io, "/") == 0);
    fs->crash(crash_tail::zero_filled);
    CHECK(file_contents(*fs, "/f") == std::string(3, '\0'));
    fs->crash(crash_tail::dropped);  // what the first crash left is on disk
    CHECK(file_contents(*fs, "/f") == std::string(3, '\0'));
    CHECK(io.close(fd) == -1);
}

TEST_CASE("simulated fs: rename and unlink are durable once the directory is synced", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int old_file = write_new(io, "/data", "old");
    REQUIRE(io.fsync(old_file) == 0);
    REQUIRE(sync_directory(io, "/") == 0);
    io.close(old_file);

    const int new_file = write_new(io, "/data.tmp", "new");
    REQUIRE(io.fdatasync(new_file) == 0);
    REQUIRE(io.rename("/data.tmp", "/data") == 0);
    CHECK(file_contents(*fs, "/data") == "new");
    CHECK(listing(io, "/") == std::vector<std::string>{"data"});

    SECTION("before the directory sync, a crash brings the old file back") {
        fs->crash();
        CHECK(file_contents(*fs, "/data") == "old");
        CHECK(listing(io, "/") == std::vector<std::string>{"data"});
    }
    SECTION("after it, the new file stays") {
        REQUIRE(sync_directory(io, "/") == 0);
        REQUIRE(io.unlink("/data") == 0);
        fs->crash();  // the unlink was not synced: the file is back
        CHECK(file_contents(*fs, "/data") == "new");
    }
    SECTION("an unlinked file's descriptor still reads it") {
        REQUIRE(io.unlink("/data") == 0);
        CHECK_FALSE(exists(*fs, "/data"));
        char bytes[3] = {};
        CHECK(io.pread(new_file, bytes, 3, 0) == 3);
        CHECK(std::string(bytes, 3) == "new");
    }
}

TEST_CASE("simulated fs: open flags and errors follow POSIX", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    CHECK(io.open("/missing", O_RDONLY, 0) == -1);
    CHECK(errno == ENOENT);
    CHECK(io.open("/no/such/dir", O_RDWR | O_CREAT, 0644) == -1);
    CHECK(errno == ENOENT);
    const int fd = write_new(io, "/f", "12345");
    CHECK(io.open("/f", O_RDWR | O_CREAT | O_EXCL, 0644) == -1);
    CHECK(errno == EEXIST);
    CHECK(io.open("/f", O_RDONLY | O_DIRECTORY, 0) == -1);
    CHECK(errno == ENOTDIR);
    CHECK(io.mkdir("/f", 0755) == -1);
    CHECK(errno == EEXIST);

    const int reader = io.open("/f", O_RDONLY, 0);
    REQUIRE(reader >= 0);
    CHECK(io.pwrite(reader, "x", 1, 0) == -1);
    CHECK(errno == EBADF);
    CHECK(io.ftruncate(reader, 0) == -1);

    struct stat info {};
    REQUIRE(io.fstat(fd, &info) == 0);
    CHECK(info.st_size == 5);
    CHECK(S_ISREG(info.st_mode));
    REQUIRE(io.stat("/", &info) == 0);
    CHECK(S_ISDIR(info.st_mode));

    // Reads stop at the end; preadv fills its parts in order.
    char a[3] = {};
    char b[4] = {};
    iovec parts[2] = {{a, 3}, {b, 4}};
    CHECK(io.preadv(reader, parts, 2, 1) == 4);
    CHECK(std::string(a, 3) == "234");
    CHECK(b[0] == '5');

    // O_TRUNC empties; ftruncate grows with zeros; a write past the end leaves a zero gap.
    const int again = io.open("/f", O_RDWR | O_TRUNC, 0);
    REQUIRE(again >= 0);
    CHECK(file_contents(*fs, "/f").empty());
    REQUIRE(io.ftruncate(again, 3) == 0);
    REQUIRE(io.pwrite(again, "z", 1, 5) == 1);
    CHECK(file_contents(*fs, "/f") == std::string("\0\0\0\0\0z", 6));

    simulated_io detached;
    CHECK(detached.open("/f", O_RDONLY, 0) == -1);
    CHECK(errno == ENODEV);
}

TEST_CASE("simulated fs: a mapping shows later writes and outlives unlink", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int fd = write_new(io, "/f", "first");
    void* address = io.mmap(nullptr, std::size_t{1} << 20, PROT_READ, MAP_SHARED, fd, 0);
    REQUIRE(address != MAP_FAILED);
    const char* bytes = static_cast<const char*>(address);
    CHECK(std::string(bytes, 5) == "first");
    REQUIRE(io.pwrite(fd, "+second", 7, 5) == 7);
    CHECK(std::string(bytes, 12) == "first+second");

    REQUIRE(io.unlink("/f") == 0);
    REQUIRE(io.close(fd) == 0);
    CHECK(std::string(bytes, 12) == "first+second");
    CHECK(io.munmap(address, std::size_t{1} << 20) == 0);
    CHECK(io.munmap(address, std::size_t{1} << 20) == -1);

    const int other = write_new(io, "/g", "");
    CHECK(io.mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, other, 0) == MAP_FAILED);
    CHECK(io.mmap(nullptr, std::size_t{1} << 40, PROT_READ, MAP_SHARED, other, 0) == MAP_FAILED);
    CHECK(errno == ENOMEM);
}

TEST_CASE("simulated fs: flock is exclusive per open file description", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int first = io.open("/LOCK", O_RDWR | O_CREAT, 0644);
    const int second = io.open("/LOCK", O_RDWR, 0);
    REQUIRE(first >= 0);
    REQUIRE(second >= 0);
    CHECK(io.flock(first, LOCK_EX | LOCK_NB) == 0);
    CHECK(io.flock(second, LOCK_EX | LOCK_NB) == -1);
    CHECK(errno == EWOULDBLOCK);
    CHECK(io.flock(second, LOCK_SH | LOCK_NB) == -1);
    CHECK(io.flock(first, LOCK_EX | LOCK_NB) == 0);  // taking one's own lock again is fine
    REQUIRE(io.close(first) == 0);                   // closing releases it
    CHECK(io.flock(second, LOCK_EX | LOCK_NB) == 0);
    CHECK(io.flock(second, LOCK_UN) == 0);
}

TEST_CASE("simulated fs: a freeze refuses every call from the k-th on and changes nothing", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int fd = write_new(io, "/f", "kept");  // calls 1 and 2
    CHECK(fs->calls() == 2);
    fs->freeze_at(4);
    REQUIRE(io.pwrite(fd, "!", 1, 4) == 1);  // call 3 runs
    CHECK(io.pwrite(fd, "?", 1, 5) == -1);   // call 4 is refused
    CHECK(errno == EIO);
    CHECK(io.close(fd) == -1);
    CHECK(io.unlink("/f") == -1);
    CHECK(file_contents(*fs, "/f") == "kept!");
    CHECK(fs->calls() == 6);
    fs->freeze_at(0);
    CHECK(io.close(fd) == 0);
}

TEST_CASE("simulated fs: the trace records every call and note", "[simulated]") {
    auto fs = std::make_shared<simulated_file_system>();
    simulated_io io(fs);
    const int fd = write_new(io, "//./f", "abc");
    fs->note("acknowledged");
    REQUIRE(io.fdatasync(fd) == 0);
    REQUIRE(io.rename("/f", "/g") == 0);
    CHECK(io.unlink("/f") == -1);

    const std::vector<simulated_call> trace = fs->trace();
    REQUIRE(trace.size() == 6);
    CHECK(trace[0].call == simulated_call::kind::open);
    CHECK(trace[0].path == "/f");
    CHECK(trace[0].created);
    CHECK(trace[0].result == fd);
    CHECK(trace[1].call == simulated_call::kind::pwrite);
    CHECK(trace[1].path == "/f");  // the descriptor's path
    CHECK(trace[1].size == 3);
    CHECK(trace[1].file == trace[0].file);
    CHECK(trace[2].call == simulated_call::kind::note);
    CHECK(trace[2].path == "acknowledged");
    CHECK(trace[2].number == 2);
    CHECK(trace[3].call == simulated_call::kind::fdatasync);
    CHECK(trace[4].call == simulated_call::kind::rename);
    CHECK(trace[4].target == "/g");
    CHECK(trace[4].file == trace[0].file);
    CHECK(trace[5].result == -1);
    CHECK(trace[5].error == ENOENT);
}
