// Command runestone-weaviate-start starts a Weaviate member after making sure that a crash did
// not leave stored objects out of its vector index.
//
//	runestone-weaviate-start --data /var/lib/weaviate -- /bin/weaviate --host 0.0.0.0 ...
//
// With asynchronous indexing, Weaviate writes a batch's objects to the store's write-ahead log
// and then its vectors to the shard's indexing queue. A process killed between the two keeps the
// objects and never indexes them: nothing at start-up compares the index with the store. Weaviate
// does re-queue, from the store, every vector its index lacks when it finds an indexing
// checkpoint for the shard in the data root's index.db (bbolt), and it deletes the checkpoint
// once done. So before Weaviate starts, this program writes that checkpoint, from the first
// object, for every shard whose object store still holds a write-ahead log: a shard stopped
// cleanly has flushed and removed it. It then execs the command after "--", which keeps the
// process ID, so signals reach Weaviate directly.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	checkpointFile   = "index.db"
	checkpointBucket = "checkpoint"
	objectsStore     = "lsm/objects"
	queueSuffix      = ".queue.d"
	defaultQueue     = "main"
	namedQueuePrefix = "vectors_"
	openTimeout      = 10 * time.Second
)

// A shard's indexing queue for one target vector ("" for a collection's single vector).
type queue struct {
	collection, shard, target string
}

// key is the checkpoint's key in index.db, as Weaviate's indexcheckpoint package spells it.
func (q queue) key() string {
	if q.target == "" {
		return q.collection + "_" + q.shard
	}
	return q.collection + "_" + q.shard + "_" + q.target
}

// uncleanQueues lists the queues of every shard under data whose object store holds a
// write-ahead log. Shard folders live at <data>/<collection, lower-cased>/<shard>.
func uncleanQueues(data string) ([]queue, error) {
	collections, err := os.ReadDir(data)
	if err != nil {
		return nil, err
	}
	var found []queue
	for _, collection := range collections {
		if !collection.IsDir() {
			continue
		}
		shards, err := os.ReadDir(filepath.Join(data, collection.Name()))
		if err != nil {
			return nil, err
		}
		for _, shard := range shards {
			dir := filepath.Join(data, collection.Name(), shard.Name())
			if !shard.IsDir() || !hasWAL(filepath.Join(dir, objectsStore)) {
				continue
			}
			targets, err := queueTargets(dir)
			if err != nil {
				return nil, err
			}
			for _, target := range targets {
				found = append(found, queue{collection.Name(), shard.Name(), target})
			}
		}
	}
	return found, nil
}

func hasWAL(store string) bool {
	entries, err := os.ReadDir(store)
	if err != nil {
		return false // not a shard
	}
	for _, entry := range entries {
		if !entry.IsDir() && strings.HasSuffix(entry.Name(), ".wal") {
			return true
		}
	}
	return false
}

// queueTargets names the target vectors of a shard's queues: main.queue.d is the single vector,
// vectors_<name>.queue.d a named one.
func queueTargets(shard string) ([]string, error) {
	entries, err := os.ReadDir(shard)
	if err != nil {
		return nil, err
	}
	var targets []string
	for _, entry := range entries {
		name, ok := strings.CutSuffix(entry.Name(), queueSuffix)
		if !entry.IsDir() || !ok {
			continue
		}
		if name == defaultQueue {
			targets = append(targets, "")
		} else if target, named := strings.CutPrefix(name, namedQueuePrefix); named && target != "" {
			targets = append(targets, target)
		}
	}
	sort.Strings(targets)
	return targets, nil
}

// requeue writes a checkpoint at the first object for each queue; Weaviate skips what its index
// already holds, so a checkpoint too early costs a scan of the store and loses nothing.
func requeue(path string, queues []queue) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	first := make([]byte, 8) // document ID 0, as a little-endian uint64
	return db.Update(func(tx *bolt.Tx) error {
		bucket, err := tx.CreateBucketIfNotExists([]byte(checkpointBucket))
		if err != nil {
			return err
		}
		for _, q := range queues {
			if err := bucket.Put([]byte(q.key()), first); err != nil {
				return err
			}
		}
		return nil
	})
}

// say writes one line in the shape of Weaviate's own JSON logs, which share the stream.
func say(level, message string, fields map[string]string) {
	line := map[string]string{"level": level, "msg": message, "action": "runestone_weaviate_start",
		"time": time.Now().UTC().Format(time.RFC3339)}
	for k, v := range fields {
		line[k] = v
	}
	encoded, _ := json.Marshal(line)
	fmt.Fprintln(os.Stderr, string(encoded))
}

func prepare(data string) error {
	path := filepath.Join(data, checkpointFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil // a first start: nothing stored yet
	}
	queues, err := uncleanQueues(data)
	if err != nil {
		return fmt.Errorf("look for shards stopped uncleanly under %s: %w", data, err)
	}
	if len(queues) == 0 {
		return nil
	}
	if err := requeue(path, queues); err != nil {
		return err
	}
	for _, q := range queues {
		say("warning", "shard was not stopped cleanly: vectors its index lacks are queued again "+
			"from the stored objects", map[string]string{
			"collection": q.collection, "shard": q.shard, "target_vector": q.target,
		})
	}
	return nil
}

func main() {
	data := flag.String("data", "", "Weaviate's PERSISTENCE_DATA_PATH")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: runestone-weaviate-start --data DIR -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	command := flag.Args()
	if *data == "" || len(command) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := prepare(*data); err != nil {
		say("fatal", err.Error(), nil)
		os.Exit(1)
	}
	program, err := exec.LookPath(command[0])
	if err != nil {
		say("fatal", err.Error(), nil)
		os.Exit(127)
	}
	err = syscall.Exec(program, command, os.Environ())
	say("fatal", fmt.Sprintf("exec %s: %v", program, err), nil)
	os.Exit(126)
}
