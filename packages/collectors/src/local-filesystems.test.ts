import { describe, expect, it } from "vitest";
import { canStatfsSync, type MountPlace } from "./local-filesystems.js";

const mounts = (...list: [string, string][]): Map<string, MountPlace> =>
  new Map(list.map(([mountpoint, fstype]) => [mountpoint, { mountpoint, fstype }]));

describe("canStatfsSync", () => {
  const table = mounts(
    ["/", "ext4"],
    ["/proc", "proc"],
    ["/run", "tmpfs"],
    ["/mnt/nfs", "nfs4"],
    ["/mnt/nfs/usb", "vfat"],
    ["/mnt/nfs/usb/deep", "ext4"],
    ["/home", "xfs"],
    ["/home/me/fuse", "fuse.sshfs"],
    ["/srv/pool", "zfs"],
    ["/srv/pool/tmp", "tmpfs"],
    ["/sys/fs/cgroup", "cgroup2"],
    ["/sys/fs/cgroup/x", "tmpfs"],
  );
  const can = (mountpoint: string) => canStatfsSync(table.get(mountpoint) as MountPlace, table);

  it("allows local disk and memory filesystems reached through local ones", () => {
    expect(can("/")).toBe(true);
    expect(can("/run")).toBe(true);
    expect(can("/home")).toBe(true);
  });

  it("refuses network, FUSE, zfs and unknown types", () => {
    expect(can("/mnt/nfs")).toBe(false);
    expect(can("/home/me/fuse")).toBe(false);
    expect(can("/srv/pool")).toBe(false);
    expect(canStatfsSync({ mountpoint: "/x", fstype: "somethingnew" }, table)).toBe(false);
  });

  it("refuses a local filesystem whose path walks through a network or zfs mount", () => {
    expect(can("/mnt/nfs/usb")).toBe(false);
    expect(can("/mnt/nfs/usb/deep")).toBe(false);
    expect(can("/srv/pool/tmp")).toBe(false);
  });

  it("lets the path walk through kernel pseudo filesystems", () => {
    expect(can("/sys/fs/cgroup/x")).toBe(true);
  });
});
