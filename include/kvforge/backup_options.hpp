#pragma once
/// \file backup_options.hpp
/// kvforge::backup_options: how store::backup() and any_store::backup() make their copy.
/// A header of its own, so that any_store.hpp takes it without the opening options.

namespace kvforge {

/// How store::backup() makes its copy.
struct backup_options {
    /// false (the default): every file is copied, as a reflink (ioctl FICLONE) where the file
    /// system offers one, else byte by byte, so that the backup survives damage to the
    /// store's files. true: the store's closed segments, their hints and its compression
    /// dictionaries are hard links in the backup (where the file system allows them), which
    /// costs no time or space but shares their bytes: a byte damaged in place (a bad
    /// sector, a tool that writes into a file) is damaged in both, and the backup is no
    /// help against it. kvforge itself never writes into a closed segment, so links stay
    /// correct against everything kvforge does.
    bool link_files = false;
};

}  // namespace kvforge
