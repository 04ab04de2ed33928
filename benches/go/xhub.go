// The cross-hub scenarios of benches/src/bin/xhub.rs, written for Go, so
// goroutines race green threads in the same run. Built and run by xhub when
// `go` is installed: `go build -o target/go-xhub benches/go/xhub.go`.
//
// Usage: go-xhub bounce|pipeline|pool|spawn; prints one RESULT line.
package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

const trips = 200000
const messages = 1000000
const jobs = 100000
const spawns = 100000

func bounce() string {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	start := time.Now()
	for i := 0; i < trips; i++ {
		ping <- i
		<-pong
	}
	el := time.Since(start)
	close(ping)
	return fmt.Sprintf("%.0f ns", float64(el.Nanoseconds())/trips)
}

func pipeline() string {
	type msg struct{ sent time.Time }
	chans := make([]chan msg, 4)
	for i := range chans {
		chans[i] = make(chan msg, 64)
	}
	for s := 0; s < 3; s++ {
		go func(in, out chan msg) {
			for m := range in {
				out <- m
			}
			close(out)
		}(chans[s], chans[s+1])
	}
	lat := make([]int64, 0, messages)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		for m := range chans[3] {
			lat = append(lat, time.Since(m.sent).Nanoseconds())
		}
		close(done)
	}()
	for i := 0; i < messages; i++ {
		chans[0] <- msg{time.Now()}
	}
	close(chans[0])
	<-done
	el := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	p99 := lat[len(lat)*99/100]
	return fmt.Sprintf("%.0f k msg/s, p99 %.0f us", messages/el.Seconds()/1000, float64(p99)/1000)
}

func pool() string {
	type job func()
	queue := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var workers sync.WaitGroup
	for w := 0; w < 8; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range queue {
				j()
			}
		}()
	}
	count := 0
	start := time.Now()
	wg.Add(jobs)
	for i := 0; i < jobs; i++ {
		queue <- func() {
			mu.Lock()
			count++
			mu.Unlock()
			wg.Done()
		}
	}
	wg.Wait()
	el := time.Since(start)
	close(queue)
	workers.Wait()
	if count != jobs {
		panic("lost jobs")
	}
	return fmt.Sprintf("%.0f k jobs/s", jobs/el.Seconds()/1000)
}

func spawn() string {
	best := time.Duration(1 << 62)
	for r := 0; r < 4; r++ {
		start := time.Now()
		results := make([]int, spawns)
		var wg sync.WaitGroup
		wg.Add(spawns)
		for i := 0; i < spawns; i++ {
			go func(i int) { results[i] = i; wg.Done() }(i)
		}
		wg.Wait()
		sum := 0
		for _, v := range results {
			sum += v
		}
		if sum != spawns*(spawns-1)/2 {
			panic("bad sum")
		}
		if el := time.Since(start); el < best {
			best = el
		}
	}
	return fmt.Sprintf("%.0f ns", float64(best.Nanoseconds())/spawns)
}

func main() {
	var out string
	switch os.Args[1] {
	case "bounce":
		out = bounce()
	case "pipeline":
		out = pipeline()
	case "pool":
		out = pool()
	case "spawn":
		out = spawn()
	default:
		panic("unknown scenario")
	}
	fmt.Println("RESULT " + out)
}
