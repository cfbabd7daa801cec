package frame

// The read accessors of a SETTINGS frame work over its wire payload, which a
// Reader has already checked (length a multiple of 6, values in range). On a
// frame built for writing, they read Settings instead.

// NumSettings returns how many settings a read SETTINGS frame carries.
func (f *SettingsFrame) NumSettings() int {
	if f.payload == nil {
		return len(f.Settings)
	}
	return len(f.payload) / 6
}

// Setting returns the i'th setting of a read SETTINGS frame. It panics if i
// is not in [0, NumSettings()), like a slice index.
func (f *SettingsFrame) Setting(i int) Setting {
	if f.payload == nil {
		return f.Settings[i]
	}
	return readSetting(f.payload[i*6 : i*6+6])
}

// Value returns the last value given for id, and whether it was present.
// RFC 9113 §6.5.3: "The values in the SETTINGS frame MUST be processed in
// the order they appear", so a later value for the same id wins.
func (f *SettingsFrame) Value(id SettingID) (uint32, bool) {
	var v uint32
	var ok bool
	for i := range f.NumSettings() {
		if s := f.Setting(i); s.ID == id {
			v, ok = s.Val, true
		}
	}
	return v, ok
}

// ForEach calls fn for each setting in order, stopping at the first error.
func (f *SettingsFrame) ForEach(fn func(Setting) error) error {
	for i := range f.NumSettings() {
		if err := fn(f.Setting(i)); err != nil {
			return err
		}
	}
	return nil
}
