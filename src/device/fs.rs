//! Descriptor-relative, no-follow file operations. (Being written.)
