package awslocal

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listens reports whether process pid holds a listening TCP socket on
// addr's port, from /proc/net/tcp{,6} (the socket's inode) and the
// process's descriptors (Linux). known is false when that cannot be told
// (no /proc): the caller then trusts that the port answers.
//
// A port probed free (freeAddr) can be taken by another process before the
// emulator binds it; a dial then reaches that process, and the emulator
// dies on its bind. Asking whose socket answers tells the two apart.
func listens(pid int, addr string) (owns, known bool) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return false, false
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return false, false
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(table, port, inodes); err != nil && table == "/proc/net/tcp" {
			return false, false
		}
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false, false
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if inode, ok := strings.CutPrefix(link, "socket:["); ok && inodes[strings.TrimSuffix(inode, "]")] {
			return true, true
		}
	}
	return false, true
}

// listeningInodes adds the inodes of the sockets listening on port in a
// /proc/net/tcp table (columns: sl local_address rem_address st … inode).
func listeningInodes(table string, port int, into map[string]bool) error {
	f, err := os.Open(table)
	if err != nil {
		return err
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" || !strings.HasSuffix(fields[1], want) { // 0A: LISTEN
			continue
		}
		into[fields[9]] = true
	}
	return sc.Err()
}
