/**
 * Which mounts the `filesystem` collector may statfs(2) synchronously, on the agent's own thread.
 *
 * statfs of a disk or memory filesystem answers from counters the kernel keeps in memory (ext4's
 * per-CPU counters, xfs' in-core superblock, tmpfs' page counts): it does no I/O and cannot hang, and
 * costs a few microseconds, where a call through the libuv thread pool with a timeout costs 50–100 µs
 * of CPU in hops, promises and a timer. A network or FUSE filesystem can hang for as long as its server
 * is away, so those (and every type not listed here) keep the thread-pool call with its timeout.
 */

/**
 * Filesystem types whose statfs never waits on anything outside this machine. Kept short on purpose:
 * an unlisted type only costs the slower, timed call. zfs is left out (a suspended pool blocks
 * callers), as are overlay and fuse.* (they forward to another filesystem or to a user process).
 */
export const SYNC_STATFS_FSTYPES: ReadonlySet<string> = new Set([
  "btrfs",
  "exfat",
  "ext2",
  "ext3",
  "ext4",
  "f2fs",
  "jfs",
  "ramfs",
  "tmpfs",
  "vfat",
  "xfs",
]);

/**
 * Kernel pseudo filesystems: a path lookup that walks through one of their directories never waits on
 * a device or a server. They are not measured (the default excludes them); they matter as parents.
 */
const PSEUDO_FSTYPES: ReadonlySet<string> = new Set([
  "cgroup",
  "cgroup2",
  "configfs",
  "debugfs",
  "devpts",
  "devtmpfs",
  "mqueue",
  "proc",
  "securityfs",
  "sysfs",
  "tracefs",
]);

/** What {@link canStatfsSync} needs of a mount. */
export interface MountPlace {
  readonly mountpoint: string;
  readonly fstype: string;
}

/**
 * Whether statfs of `mount` can run synchronously: its type is in {@link SYNC_STATFS_FSTYPES} and so
 * is (or is a kernel pseudo filesystem) every visible mount its path walks through, since resolving
 * `/mnt/nfs/usb` looks `usb` up on the NFS mount at `/mnt/nfs`, which can hang. `visible` maps each
 * mount point to the mount on top of it.
 */
export function canStatfsSync(mount: MountPlace, visible: ReadonlyMap<string, MountPlace>): boolean {
  if (!SYNC_STATFS_FSTYPES.has(mount.fstype)) return false;
  const path = mount.mountpoint;
  for (
    let slash = path.indexOf("/");
    slash !== -1 && slash < path.length - 1;
    slash = path.indexOf("/", slash + 1)
  ) {
    const parent = visible.get(slash === 0 ? "/" : path.slice(0, slash));
    if (parent !== undefined && !SYNC_STATFS_FSTYPES.has(parent.fstype) && !PSEUDO_FSTYPES.has(parent.fstype))
      return false;
  }
  return true;
}
