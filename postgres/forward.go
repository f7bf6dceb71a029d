package postgres

import (
	"context"
	"errors"

	"github.com/pista-tips/pista"
)

// TODO(forward): the store of forward secrecy (pista.Forwarder).
var errForwardTODO = errors.New("postgres: forward secrecy not stored yet")

func (s *TipStore) SignKey(ctx context.Context, deskKeyID int64) ([]byte, error) {
	return nil, errForwardTODO
}

func (s *TipStore) AddIntakeKeys(ctx context.Context, journalistID, deskKeyID int64, signKey []byte, keys []pista.IntakeKey) (int, error) {
	return 0, errForwardTODO
}

func (s *TipStore) IntakeFor(ctx context.Context, deskID, day int64) (pista.IntakeKey, []byte, error) {
	return pista.IntakeKey{}, nil, pista.ErrNotFound
}

func (s *TipStore) IntakeKeyByID(ctx context.Context, id int64) (pista.IntakeKey, error) {
	return pista.IntakeKey{}, pista.ErrNotFound
}

func (s *TipStore) IntakeKeysFor(ctx context.Context, journalistID int64) ([]pista.IntakeKey, error) {
	return nil, nil
}

func (s *TipStore) DestroyIntakeKeys(ctx context.Context, before int64) (int, error) {
	return 0, nil
}

func (s *TipStore) Unsorted(ctx context.Context, journalistID, after int64, limit int) ([]pista.Item, error) {
	return nil, nil
}

func (s *TipStore) UnsortedPreviews(ctx context.Context, journalistID int64, after string, limit int) ([]pista.Conversation, error) {
	return nil, nil
}

func (s *TipStore) SetConversationKey(ctx context.Context, journalistID int64, id, recipient string, sealed []byte) error {
	return errForwardTODO
}

func (s *TipStore) Sort(ctx context.Context, journalistID int64, batch []pista.Sorted) ([]pista.Sorted, error) {
	return nil, errForwardTODO
}

func (s *TipStore) SortPreview(ctx context.Context, journalistID int64, id string, from int64, preview []byte) error {
	return errForwardTODO
}
