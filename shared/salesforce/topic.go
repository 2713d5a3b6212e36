package salesforce

import (
	"regexp"
	"sync"
)

var (
	platformEventTopic = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/event/[A-Za-z][A-Za-z0-9_]*(__e|__chn)$`) })
	publishTopic       = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/event/[A-Za-z][A-Za-z0-9_]*__e$`) })
	changeEventTopic   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^/data/([A-Za-z][A-Za-z0-9_]*ChangeEvent|ChangeEvents|[A-Za-z][A-Za-z0-9_]*__chn)$`)
	})
)

// ValidSubscribeTopic reports whether topic names a platform event
// (/event/X__e, /event/X__chn) or change event channel (/data/XChangeEvent,
// /data/X__ChangeEvent, /data/ChangeEvents, /data/X__chn).
func ValidSubscribeTopic(topic string) bool {
	return platformEventTopic().MatchString(topic) || changeEventTopic().MatchString(topic)
}

// ValidPublishTopic reports whether topic names a custom platform event
// (/event/X__e): change events cannot be published.
func ValidPublishTopic(topic string) bool {
	return publishTopic().MatchString(topic)
}

// IsChangeTopic reports whether topic is a change data capture channel.
func IsChangeTopic(topic string) bool { return changeEventTopic().MatchString(topic) }
