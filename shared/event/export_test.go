package event

// ReadsDirectly reports whether DecodeDelivery reads b itself, without
// json.Unmarshal.
func ReadsDirectly(b []byte) bool {
	_, ok := readDelivery(b)
	return ok
}
