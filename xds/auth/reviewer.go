package auth

import (
	"context"
	"fmt"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
)

// NewKubernetesReviewer returns a TokenReviewer that creates TokenReviews
// through client-go, e.g. NewKubernetesReviewer(clientset.AuthenticationV1()).
// The caller's RBAC needs create on tokenreviews.
func NewKubernetesReviewer(c authv1client.TokenReviewsGetter) TokenReviewer {
	return ReviewerFunc(func(ctx context.Context, token string, audiences []string) (*authv1.TokenReviewStatus, error) {
		tr, err := c.TokenReviews().Create(ctx, &authv1.TokenReview{
			Spec: authv1.TokenReviewSpec{Token: token, Audiences: audiences},
		}, metav1.CreateOptions{})
		if err != nil {
			return nil, fmt.Errorf("create TokenReview: %w", err)
		}
		return &tr.Status, nil
	})
}
