// An outside oracle for the Rust log: Go's golang.org/x/mod/sumdb/tlog (from
// Debian's golang-golang-x-mod-dev) computes the root of the tree over the entries
// it reads (one hex-encoded entry per line), an inclusion proof for every entry and
// a consistency proof from every smaller size, and prints them as JSON.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

type hashes map[int64]tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		v, ok := h[x]
		if !ok {
			return nil, fmt.Errorf("no hash %d", x)
		}
		out[i] = v
	}
	return out, nil
}

func hexes(p []tlog.Hash) []string {
	out := []string{}
	for _, h := range p {
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	stored := hashes{}
	n := int64(0)
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		data, err := hex.DecodeString(s.Text())
		if err != nil {
			panic(err)
		}
		hs, err := tlog.StoredHashes(n, data, stored)
		if err != nil {
			panic(err)
		}
		for i, h := range hs {
			stored[tlog.StoredHashIndex(0, n)+int64(i)] = h
		}
		n++
	}
	root, err := tlog.TreeHash(n, stored)
	if err != nil {
		panic(err)
	}
	inclusion := [][]string{}
	consistency := [][]string{}
	for i := int64(0); i < n; i++ {
		p, err := tlog.ProveRecord(n, i, stored)
		if err != nil {
			panic(err)
		}
		inclusion = append(inclusion, hexes(p))
	}
	for old := int64(1); old < n; old++ {
		p, err := tlog.ProveTree(n, old, stored)
		if err != nil {
			panic(err)
		}
		consistency = append(consistency, hexes(p))
	}
	out, _ := json.Marshal(map[string]interface{}{"size": n, "root": hex.EncodeToString(root[:]), "inclusion": inclusion, "consistency": consistency})
	fmt.Println(string(out))
}
